import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createNoopTracer, createRecordingTracer } from "../../test/support/recording-tracer.ts";
import { scenarios } from "../../test/support/tracing-scenarios.ts";
import { createLogger } from "../log.ts";
import { createRateLimiter, createSchemaSampler } from "./sampling.ts";
import { createSpanPolicy, PolicySpan, rateLimitedWarn, type SpanBackend } from "./stream-span.ts";

const all = scenarios();

/** Plays a scenario: first run, propagation, later runs, finish. */
function play(tracer: ReturnType<typeof createRecordingTracer>, name: keyof typeof all) {
  const s = all[name];
  const span = tracer.startSpan(s.start);
  const [first, ...later] = s.runs;
  if (first) span.noteWaf(first);
  const headers = span.propagationHeaders();
  for (const r of later) span.noteWaf(r);
  span.finish(s.end);
  return headers;
}

describe("recording tracer: keep, propagation, finish once", () => {
  test("standalone: an attack is kept and propagated with _dd.p.ts; a benign request is not", () => {
    const tracer = createRecordingTracer();
    play(tracer, "benign"); // the first span after the rules loaded is kept (Go)
    const attack = play(tracer, "monitored");
    const benign = play(tracer, "benign");
    assert.deepEqual(benign, []);
    assert.ok(attack.some(([n, v]) => n === "x-datadog-tags" && v.includes("_dd.p.ts=02")));
    assert.deepEqual(
      tracer.spans.map((s) => [s.resource, s.asmKept]),
      [
        ["GET /api/users/123", true],
        ["POST /login", true],
        ["GET /api/users/123", false],
      ],
    );
    assert.equal(tracer.spans[0]?.meta["_dd.appsec.waf.version"], "1.30.1");
    assert.equal(tracer.spans[2]?.meta["_dd.appsec.waf.version"], undefined);
  });

  test("APM mode: every request is propagated", () => {
    const tracer = createRecordingTracer({ apmTracingEnabled: true });
    play(tracer, "monitored");
    const benign = play(tracer, "benign");
    assert.ok(benign.some(([n]) => n === "x-datadog-trace-id"));
    assert.ok(!benign.some(([n]) => n === "x-datadog-tags"));
  });

  test("an upstream ASM trace source is propagated in standalone mode", () => {
    const tracer = createRecordingTracer();
    play(tracer, "benign");
    const headers = play(tracer, "upstream-asm");
    assert.ok(headers.some(([n, v]) => n === "x-datadog-trace-id" && v === "12345"));
    assert.deepEqual(play(tracer, "upstream-context"), []);
  });

  test("the ASM keep is rate-limited (DD_APPSEC_TRACE_RATE_LIMIT); events are still tagged", () => {
    const tracer = createRecordingTracer({ traceRateLimitPerS: 2, now: () => 0 });
    for (let i = 0; i < 4; i += 1) play(tracer, "monitored");
    assert.deepEqual(
      tracer.spans.map((s) => s.asmKept),
      [true, true, false, false],
    );
    for (const span of tracer.spans) assert.equal(span.meta["appsec.event"], "true");
  });

  test("finish is applied once; later calls and WAF runs are ignored", () => {
    const tracer = createRecordingTracer();
    const s = all.monitored;
    const span = tracer.startSpan(s.start);
    span.finish(s.end);
    span.noteWaf(s.runs[0] ?? assert.fail());
    span.finish({ ...s.end, outcome: "error" });
    assert.deepEqual(span.propagationHeaders(), []);
    assert.equal(tracer.spans.length, 1);
    assert.equal(tracer.spans[0]?.end.outcome, "complete");
    assert.equal(tracer.spans[0]?.meta["appsec.event"], undefined);
  });
});

describe("API Security sampling", () => {
  test("one schema per method, endpoint and status per delay; memoised per span; keeps in standalone", () => {
    let now = 0;
    const tracer = createRecordingTracer({ now: () => now });
    const s = all.benign;
    const ask = (status: number) => {
      const span = tracer.startSpan(s.start);
      const first = span.shouldSampleSchema(status);
      assert.equal(span.shouldSampleSchema(status === 200 ? 201 : 200), first, "memoised");
      span.finish(s.end);
      return first;
    };
    assert.equal(ask(200), true);
    assert.equal(ask(200), false);
    assert.equal(ask(201), true);
    assert.equal(ask(404), false);
    now += 30_000;
    assert.equal(ask(200), true);
    const sampled = tracer.spans.filter((span) => span.schemaSampled);
    assert.ok(sampled.every((span) => span.asmKept));
  });

  test("off when DD_API_SECURITY_ENABLED=false", () => {
    const tracer = createRecordingTracer({ apiSecurityEnabled: false });
    assert.equal(tracer.startSpan(all.benign.start).shouldSampleSchema(200), false);
  });

  test("noop tracer: nothing sampled, nothing propagated", () => {
    const span = createNoopTracer().startSpan(all.benign.start);
    assert.equal(span.shouldSampleSchema(200), false);
    assert.deepEqual(span.propagationHeaders(), []);
    span.finish(all.benign.end);
  });
});

describe("a failing backend never reaches the pipeline", () => {
  test("inject, keep, sampling and finish errors are contained and warned about (rate-limited)", () => {
    const lines: string[] = [];
    const log = createLogger({ sink: (line) => lines.push(line) });
    const policy = createSpanPolicy(
      {
        standalone: false,
        apiSecurityEnabled: true,
        asmKeepLimiter: createRateLimiter(100),
        schemaSampler: createSchemaSampler(30),
        tagOptions: {},
      },
      log,
    );
    const boom = () => {
      throw new Error("dd-trace changed");
    };
    const backend: SpanBackend = {
      keepForAsm: boom,
      hasAsmTraceSource: boom,
      isRejected: boom,
      inject: boom,
      willExport: boom,
      finish: boom,
      drop: boom,
    };
    const s = all.monitored;
    const span = new PolicySpan(s.start, backend, policy);
    span.noteWaf(s.runs[0] ?? assert.fail());
    assert.deepEqual(span.propagationHeaders(), []);
    assert.equal(span.shouldSampleSchema(200), false);
    span.finish(s.end);
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /"operation":"keep"/);
  });

  test("rateLimitedWarn counts what it suppressed", () => {
    const lines: string[] = [];
    let now = 0;
    const warn = rateLimitedWarn(createLogger({ sink: (l) => lines.push(l) }), 1000, () => now);
    warn("w", {});
    warn("w", {});
    warn("w", {});
    now = 1000;
    warn("w", {});
    assert.equal(lines.length, 2);
    assert.match(lines[1] ?? "", /"suppressed":2/);
  });
});
