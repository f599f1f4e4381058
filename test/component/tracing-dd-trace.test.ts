/**
 * The real dd-trace, started by `createTracer` in a child process (dd-trace is process-global),
 * reporting to the fake Agent: exact tags on the wire, the keep decision in standalone and APM
 * modes, propagation, no automatic instrumentation, and an Agent that is down then up.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { after, describe, type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { spanTagsFor } from "../../processor/tracing/index.ts";
import { type AgentSpan, type FakeAgent, startFakeAgent } from "../support/fake-agent.ts";
import {
  type ContextScenarioName,
  SCENARIO_NAMES,
  scenarios,
  UPSTREAM,
} from "../support/tracing-scenarios.ts";

const DRIVER = join(dirname(fileURLToPath(import.meta.url)), "..", "support", "tracing-driver.ts");

type Line = Record<string, unknown>;

interface DriverRun {
  lines: Line[];
  code: number | null;
  stderr: string;
}

/**
 * Runs the driver against `agent`; `onLine` may answer on the child's stdin. The driver is killed
 * when the test ends, should it still run (a test that failed while waiting for it).
 */
function runDriver(
  t: TestContext,
  agent: FakeAgent,
  args: string[],
  env: Record<string, string> = {},
  onLine?: (line: Line, stdin: NodeJS.WritableStream) => void,
): Promise<DriverRun> {
  const child = spawn(process.execPath, [DRIVER, ...args], {
    env: {
      PATH: process.env.PATH ?? "",
      DD_AGENT_HOST: "127.0.0.1",
      DD_TRACE_AGENT_PORT: String(agent.port),
      DD_INSTRUMENTATION_TELEMETRY_ENABLED: "false",
      ...env,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const lines: Line[] = [];
  let stderr = "";
  let buffered = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const part of parts) {
      if (part.trim() === "") continue;
      const line = JSON.parse(part) as Line;
      lines.push(line);
      onLine?.(line, child.stdin);
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve) => {
    child.on("exit", (code) => resolve({ lines, code, stderr }));
  });
}

const marker = () => randomUUID().slice(0, 8);
const withMarker = (m: string) => (span: AgentSpan) => span.meta["http.url"]?.includes(`m=${m}`);
const propagationOf = (run: DriverRun, name: string) =>
  run.lines.find((l) => l.scenario === name)?.propagation as Array<[string, string]> | undefined;
const header = (headers: Array<[string, string]> | undefined, name: string) =>
  headers?.find(([n]) => n === name)?.[1];
const priority = (span: AgentSpan) => span.metrics._sampling_priority_v1;

describe("dd-trace in a child process, reporting to the fake Agent", () => {
  const agents: FakeAgent[] = [];
  const agent = async (down = false) => {
    const started = await startFakeAgent({ down });
    agents.push(started);
    return started;
  };
  after(async () => {
    for (const a of agents) await a.stop();
  });

  test("exports every scenario with exactly the tags spanTagsFor computes (APM tracing on)", async (t) => {
    const fake = await agent();
    const m = marker();
    const run = await runDriver(t, fake, ["scenarios", m], { DD_APM_TRACING_ENABLED: "true" });
    assert.equal(run.code, 0, run.stderr);
    const spans = await fake.waitForSpans(withMarker(m), 10_000, SCENARIO_NAMES.length);
    assert.equal(spans.length, SCENARIO_NAMES.length);
    const all = scenarios(m);
    for (const [index, name] of SCENARIO_NAMES.entries()) {
      const scenario = all[name];
      const span = spans.find((s) => s.meta["http.url"]?.includes(`m=${m}.${name}`));
      assert.ok(span, `span of ${name}`);
      const expected = spanTagsFor(scenario.start, scenario.runs, scenario.end, {
        firstAfterRulesLoad: index === 0,
      });
      assert.equal(span.name, "http.request", name);
      assert.equal(span.type, "web", name);
      assert.equal(span.resource, expected.resource, name);
      assert.equal(span.service, "serviceextensions", name);
      assert.equal(span.error, expected.error ? 1 : 0, name);
      for (const [key, value] of Object.entries(expected.meta)) {
        assert.equal(span.meta[key], value, `${name}: meta ${key}`);
      }
      for (const [key, value] of Object.entries(expected.metrics)) {
        assert.equal(span.metrics[key], value, `${name}: metric ${key}`);
      }
      // Nothing of ours beyond what spanTagsFor computed (dd-trace adds its own `_dd.*` and ids).
      for (const key of Object.keys(span.meta)) {
        if (key.startsWith("http.") || key.startsWith("appsec.") || key.startsWith("_dd.appsec.")) {
          assert.ok(key in expected.meta, `${name}: unexpected meta ${key}`);
        }
      }
      // Force-kept for ASM: an event or `keep`, or the first span after the rules loaded (Go).
      const kept = index === 0 || scenario.runs.some((r) => r.events.length > 0 || r.keep);
      assert.equal(span.meta["_dd.p.ts"], kept ? "02" : undefined, `${name}: _dd.p.ts`);
      if (kept) assert.equal(priority(span), 2, `${name}: priority`);
      assert.equal(span.metrics["_dd.measured"], 1, name);
    }
  });

  test("standalone mode: the attack trace is kept (priority 2, _dd.p.ts=02); benign ones are not, except the heartbeat", async (t) => {
    const fake = await agent();
    const m = marker();
    const names = ["monitored", "benign", "benign", "benign", "benign", "benign"];
    const run = await runDriver(t, fake, ["sequence", m, ...names], {
      DD_APM_TRACING_ENABLED: "false",
    });
    assert.equal(run.code, 0, run.stderr);
    const [attack] = await fake.waitForSpans(
      (s) => withMarker(m)(s) && s.meta["appsec.event"] === "true",
    );
    assert.ok(attack);
    assert.equal(priority(attack), 2);
    assert.equal(attack.meta["_dd.p.ts"], "02");
    assert.equal(attack.meta["_dd.p.dm"], "-5");
    assert.equal(attack.metrics["_dd.apm.enabled"], 0);
    // The heartbeat: one plain trace per minute (the first benign one), priority 1, default
    // mechanism; the other four are dropped.
    const isBenign = (s: AgentSpan) => withMarker(m)(s) && s.meta["appsec.event"] === undefined;
    await fake.waitForSpans(isBenign);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const benign = fake.spans.filter(isBenign);
    assert.equal(benign.length, 1, `benign spans exported: ${benign.length}`);
    for (const span of benign) {
      assert.equal(priority(span), 1);
      assert.equal(span.meta["_dd.p.dm"], "-0");
      assert.equal(span.meta["_dd.p.ts"], undefined);
    }
    // Propagation: only the ASM trace is propagated, carrying _dd.p.ts.
    const attackHeaders = propagationOf(run, "monitored");
    assert.match(header(attackHeaders, "x-datadog-tags") ?? "", /_dd\.p\.ts=02/);
    assert.equal(header(attackHeaders, "x-datadog-sampling-priority"), "2");
    const benignRuns = run.lines.filter((l) => l.scenario === "benign");
    assert.equal(benignRuns.length, 5);
    for (const line of benignRuns) assert.deepEqual(line.propagation, []);
    const traceRequests = fake.requests.filter((r) => r.path.endsWith("/traces"));
    assert.ok(traceRequests.length > 0);
    for (const r of traceRequests) assert.equal(r.headers["datadog-client-computed-stats"], "yes");
  });

  test("APM tracing on: attack and benign traces both arrive, both propagated", async (t) => {
    const fake = await agent();
    const m = marker();
    const run = await runDriver(t, fake, ["sequence", m, "benign", "monitored", "benign"], {
      DD_APM_TRACING_ENABLED: "true",
    });
    assert.equal(run.code, 0, run.stderr);
    const spans = await fake.waitForSpans(withMarker(m), 10_000, 3);
    const attack = spans.find((s) => s.meta["appsec.event"] === "true");
    assert.equal(attack && priority(attack), 2);
    assert.equal(attack?.meta["_dd.p.ts"], "02");
    assert.equal(attack?.metrics["_dd.apm.enabled"], undefined);
    const benign = spans.filter((s) => s.meta["appsec.event"] === undefined);
    assert.equal(benign.length, 2);
    for (const span of benign) assert.ok((priority(span) ?? 0) >= 1);
    for (const line of run.lines.filter((l) => l.scenario !== undefined)) {
      const headers = line.propagation as Array<[string, string]>;
      assert.ok(header(headers, "x-datadog-trace-id"), `${String(line.scenario)} propagated`);
      assert.ok(header(headers, "traceparent"));
    }
  });

  test("continues an upstream trace context; in standalone mode only an ASM upstream is propagated", async (t) => {
    const fake = await agent();
    const m = marker();
    const names: ContextScenarioName[] = ["upstream-context", "upstream-asm"];
    const run = await runDriver(t, fake, ["sequence", m, "benign", ...names], {
      DD_APM_TRACING_ENABLED: "false",
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(propagationOf(run, "upstream-context"), []);
    const asm = propagationOf(run, "upstream-asm");
    assert.equal(header(asm, "x-datadog-trace-id"), UPSTREAM.traceId);
    assert.match(header(asm, "x-datadog-tags") ?? "", /_dd\.p\.ts=02/);
    const [span] = await fake.waitForSpans(
      (s) => withMarker(m)(s) && s.resource === "GET /downstream-asm",
    );
    assert.equal(span?.trace_id, BigInt(UPSTREAM.traceId));
    assert.equal(span?.parent_id, BigInt(UPSTREAM.parentId));
    assert.equal(span && priority(span), 2);
  });

  test("v0.5 protocol: the same spans decode from the string table", async (t) => {
    const fake = await agent();
    const m = marker();
    const run = await runDriver(t, fake, ["sequence", m, "blocked-request-headers"], {
      DD_APM_TRACING_ENABLED: "true",
      DD_TRACE_AGENT_PROTOCOL_VERSION: "0.5",
    });
    assert.equal(run.code, 0, run.stderr);
    const [span] = await fake.waitForSpans(withMarker(m));
    assert.ok(fake.requests.some((r) => r.path === "/v0.5/traces"));
    assert.equal(span?.resource, "GET /");
    assert.equal(span?.meta["appsec.blocked"], "true");
    assert.equal(span?.meta["http.status_code"], "403");
    assert.equal(span?.metrics["_dd.appsec.enabled"], 1);
  });

  test("no automatic instrumentation: http, http2 and fetch traffic in the process makes no span", async (t) => {
    const fake = await agent();
    const m = marker();
    const run = await runDriver(t, fake, ["autoinstr", m], { DD_APM_TRACING_ENABLED: "true" });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.lines.some((l) => l.requests === 4));
    await fake.waitForSpans(withMarker(m));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(
      fake.spans.map((s) => `${s.name} ${s.meta.component}`),
      ["http.request envoy"],
    );
  });

  test("Agent down, then up: streams stay fast and traces resume", async (t) => {
    const fake = await agent(true);
    const run = await playDownThenUp(t, fake, (stdin) => {
      void fake.up().then(() => stdin.write("up\n"));
    });
    // Traces resume: spans of the second phase arrive. dd-trace also retries the first phase's
    // payloads (backoff of 1-8 s for 30 s after start), so some of those may arrive too.
    await fake.waitForSpans((s) => s.meta["http.url"]?.includes("/up/") === true);
    const late = fake.spans.filter((s) => s.meta["http.url"]?.includes("/down/")).length;
    console.log(`  spans of the down phase delivered later by dd-trace's retries: ${late}`);
    const done = run.lines.find((l) => l.done === true);
    const warnings = ((done?.logs as Line[] | undefined) ?? []).filter((l) => l.level === "warn");
    assert.ok(warnings.length <= 2, `warnings are rate-limited (${warnings.length})`);
  });

  test("Agent rejecting traces (503), then healthy: one rate-limited warning, streams unaffected", async (t) => {
    const fake = await agent();
    fake.setTraceStatus(503);
    const run = await playDownThenUp(t, fake, (stdin) => {
      fake.setTraceStatus(200);
      stdin.write("up\n");
    });
    await fake.waitForSpans((s) => s.meta["http.url"]?.includes("/up/") === true);
    assert.ok(fake.requests.some((r) => r.path === "/v0.4/traces"));
    assert.equal(fake.spans.filter((s) => s.meta["http.url"]?.includes("/down/")).length, 0);
    const done = run.lines.find((l) => l.done === true);
    const warnings = ((done?.logs as Line[] | undefined) ?? []).filter((l) => l.level === "warn");
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(String(warnings[0]?.error), /agent/i);
  });
});

interface Stats {
  p50: number;
  p99: number;
  max: number;
}

const STREAMS = 400;

/**
 * Plays STREAMS streams while the Agent is unavailable, calls `recover` when the driver waits,
 * plays STREAMS more, and prints the per-phase costs side by side (measured, not asserted: the
 * machine is shared and noisy).
 */
async function playDownThenUp(
  t: TestContext,
  fake: FakeAgent,
  recover: (stdin: NodeJS.WritableStream) => void,
): Promise<DriverRun> {
  const run = await runDriver(
    t,
    fake,
    ["agent-down", marker(), String(STREAMS)],
    { DD_APM_TRACING_ENABLED: "true", DD_REMOTE_CONFIGURATION_ENABLED: "false" },
    (line, stdin) => {
      if (line.waiting === "up") recover(stdin);
    },
  );
  assert.equal(run.code, 0, run.stderr);
  const down = run.lines.find((l) => l.phase === "down") as Record<string, Stats> | undefined;
  const up = run.lines.find((l) => l.phase === "up") as Record<string, Stats> | undefined;
  assert.ok(down?.finishUs && up?.finishUs && down.startSpanUs && up.startSpanUs);
  assert.ok(down.totalUs && up.totalUs);
  const fmt = (s: Stats) =>
    `p50 ${s.p50.toFixed(1).padStart(6)} µs  p99 ${s.p99.toFixed(1).padStart(7)} µs`;
  console.log(
    [
      `  ${STREAMS} streams per phase      Agent unavailable            | Agent healthy`,
      `  startSpan()               ${fmt(down.startSpanUs)} | ${fmt(up.startSpanUs)}`,
      `  finish()                  ${fmt(down.finishUs)} | ${fmt(up.finishUs)}`,
      `  whole stream              ${fmt(down.totalUs)} | ${fmt(up.totalUs)}`,
    ].join("\n"),
  );
  return run;
}
