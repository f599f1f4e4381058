/**
 * Remote Configuration end to end: the real processor polls a fake Agent, applies what it serves
 * to libddwaf, and reports apply states back; requests go through the gRPC ext_proc stream.
 */
import assert from "node:assert/strict";
import { after, before, describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { ProcessingResponse } from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { encodeCapabilities, subscriptionFor } from "../../processor/remote-config/index.ts";
import { type FakeAgent, type RcRequest, startFakeAgent } from "../support/fake-agent.ts";
import { type Client, createClient, exchange, openStream } from "../support/grpc-client.ts";
import {
  getHeaders,
  headersSet,
  kindOf,
  type MessageOptions,
  requestHeaders,
  responseHeaders,
} from "../support/messages.ts";
import { type ProcessorProcess, startProcessor } from "../support/processor-process.ts";
import { sampleValue } from "../support/prometheus.ts";
import {
  BLOCK_401,
  blockedIps,
  blockedUsers,
  blockingOverride,
  blockRedirect,
  customPathRule,
  exclusion,
  MONITORED_USER_AGENT,
  MONITORING_RULE,
  manyIps,
  smallRuleset,
  USER_ID_RULE,
} from "../support/rc-payloads.ts";
import type { ServedConfig } from "../support/remote-config.ts";
import { TEST_RULES } from "../support/waf-server.ts";

const DATA = "datadog/2/ASM_DATA/blocked-ips/config";
const USERS = "datadog/2/ASM_DATA/blocked-users/config";
const ASM = "datadog/2/ASM/custom/config";
const USER_RULE = "datadog/2/ASM/user-rule/config";
const DD = "datadog/2/ASM_DD/rules/config";
const POLL_SECONDS = "0.1";

const ATTRIBUTES = (address: string): MessageOptions => ({
  attributes: { "envoy.filters.http.ext_proc": { "source.address": address } },
});

/** What the processor answered to a request's headers. */
interface Answer {
  kind: string | undefined;
  status: number | undefined;
  location: string | undefined;
}

async function send(
  client: Client,
  path: string,
  extra: Record<string, string> = {},
  options: MessageOptions = {},
): Promise<Answer> {
  const stream = openStream(client);
  const reply: ProcessingResponse = await exchange(
    stream,
    requestHeaders(getHeaders(path, extra), true, options),
  );
  const kind = kindOf(reply);
  if (kind === "requestHeaders") {
    await exchange(stream, responseHeaders({ ":status": "200" }, true));
  }
  await stream.status;
  const status =
    reply.response.case === "immediateResponse" ? reply.response.value.status?.code : undefined;
  return { kind, status, location: headersSet(reply).location };
}

const blocked = (answer: Answer) => answer.kind === "immediateResponse";

/** The state a config was last reported with. */
function reported(request: RcRequest, id: string) {
  return request.client.state.config_states.find((state) => state.id === id);
}

const idOf = (path: string) => path.split("/")[3] ?? path;

/** Serves `configs` and waits for the poll that reports every path in `expect` as given. */
async function serve(
  agent: FakeAgent,
  configs: ServedConfig[],
  expect: Record<string, 2 | 3>,
  omitFiles: string[] = [],
): Promise<RcRequest> {
  const waiting = agent.waitForRcRequest((request) =>
    Object.entries(expect).every(
      ([path, state]) => reported(request, idOf(path))?.apply_state === state,
    ),
  );
  agent.serveRemoteConfig(configs, omitFiles);
  return waiting;
}

/** `remote_config_applies_total` of one process in the processor's `/metrics`. */
async function appliesOf(
  processor: ProcessorProcess,
  worker: string,
  product: string,
  result: string,
): Promise<number | undefined> {
  const response = await fetch(`http://127.0.0.1:${processor.healthPort}/metrics`);
  return sampleValue(await response.text(), "aap_extproc_remote_config_applies_total", {
    product,
    result,
    worker,
  });
}

describe("Remote Configuration, one process", () => {
  let agent: FakeAgent;
  let processor: ProcessorProcess;
  let client: Client;
  before(async () => {
    agent = await startFakeAgent();
    processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_TRACE_AGENT_URL: agent.url,
      DD_REMOTE_CONFIG_POLL_INTERVAL_SECONDS: POLL_SECONDS,
    });
    client = createClient(`127.0.0.1:${processor.grpcPort}`);
  });
  after(async () => {
    client.close();
    await processor.stop();
    await agent.stop();
  });

  test("polls with the blocking products and capabilities, and dd-trace does not poll too", async () => {
    const request = await agent.waitForRcRequest(() => true);
    assert.deepEqual([...request.client.products].sort(), ["ASM", "ASM_DATA", "ASM_DD"]);
    assert.equal(request.client.capabilities, "DA8ABwe8");
    for (const polled of agent.rcRequests) {
      assert.ok(
        !polled.client.products.includes("APM_TRACING"),
        "only the processor's client polls",
      );
    }
  });

  test("a 12,500-IP denylist blocks within one poll, by header and by source address; removal unblocks", async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const entries = [
      ...manyIps(12_500),
      { value: "198.51.100.7", expiration: 0 },
      { value: "198.51.100.8", expiration: past },
    ];
    await serve(agent, [{ path: DATA, content: blockedIps(entries) }], { [DATA]: 2 });
    assert.ok(blocked(await send(client, "/", { "x-forwarded-for": "198.51.100.7" })));
    assert.ok(blocked(await send(client, "/", { "x-real-ip": "10.0.48.211" })));
    assert.ok(blocked(await send(client, "/", {}, ATTRIBUTES("198.51.100.7:41000"))));
    assert.ok(!blocked(await send(client, "/", { "x-forwarded-for": "198.51.100.9" })));
    assert.ok(!blocked(await send(client, "/", {}, ATTRIBUTES("198.51.100.9:41000"))));
    assert.ok(!blocked(await send(client, "/", { "x-forwarded-for": "198.51.100.8" })), "expired");
    const applied = await appliesOf(processor, "0", "ASM_DATA", "applied");
    assert.equal(applied, 1, "the ASM_DATA apply is counted, once");
    await serve(agent, [], {});
    await agent.waitForRcRequest((r) => r.client.state.config_states.length === 0);
    assert.ok(!blocked(await send(client, "/", { "x-forwarded-for": "198.51.100.7" })));
  });

  test("a blocked user id, read by a custom rule from a header, is blocked; removal unblocks", async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const users = blockedUsers([
      { value: "mallory", expiration: 0 },
      { value: "trudy", expiration: past },
    ]);
    await serve(
      agent,
      [
        { path: USER_RULE, content: USER_ID_RULE },
        { path: USERS, content: users },
      ],
      { [USER_RULE]: 2, [USERS]: 2 },
    );
    assert.ok(blocked(await send(client, "/", { "x-user-id": "mallory" })));
    assert.ok(!blocked(await send(client, "/", { "x-user-id": "alice" })));
    assert.ok(!blocked(await send(client, "/", { "x-user-id": "trudy" })), "expired");
    await serve(agent, [{ path: USER_RULE, content: USER_ID_RULE }], { [USER_RULE]: 2 });
    await agent.waitForRcRequest((r) => reported(r, idOf(USERS)) === undefined);
    assert.ok(!blocked(await send(client, "/", { "x-user-id": "mallory" })));
  });

  test("overrides, custom rules, custom block actions and exclusions take effect and revert", async () => {
    const scanner = { "user-agent": MONITORED_USER_AGENT };
    assert.ok(!blocked(await send(client, "/", scanner)), "a monitoring rule does not block");

    await serve(agent, [{ path: ASM, content: blockingOverride(MONITORING_RULE) }], { [ASM]: 2 });
    assert.equal((await send(client, "/", scanner)).status, 403);

    await serve(
      agent,
      [{ path: ASM, content: { ...blockingOverride(MONITORING_RULE), ...BLOCK_401 }, version: 2 }],
      { [ASM]: 2 },
    );
    assert.equal((await send(client, "/", scanner)).status, 401);

    const location = "https://example.com/blocked";
    await serve(
      agent,
      [
        {
          path: ASM,
          content: {
            ...customPathRule("custom-admin", "/admin"),
            ...blockRedirect(location),
            ...blockingOverride(MONITORING_RULE),
            ...exclusion(MONITORING_RULE, "/internal"),
          },
          version: 3,
        },
      ],
      { [ASM]: 2 },
    );
    const redirected = await send(client, "/admin/users");
    assert.equal(redirected.status, 302);
    assert.equal(redirected.location, location);
    assert.equal((await send(client, "/", scanner)).status, 302);
    assert.ok(!blocked(await send(client, "/internal/status", scanner)), "excluded on this path");

    await serve(agent, [], {});
    await agent.waitForRcRequest((r) => reported(r, idOf(ASM)) === undefined);
    assert.ok(!blocked(await send(client, "/", scanner)), "back to monitoring");
    assert.ok(!blocked(await send(client, "/admin/users")));
  });

  test("ASM_DD replaces the ruleset and the rules-version span tag follows", async () => {
    await serve(agent, [{ path: DD, content: smallRuleset("42.0.0", "/rc-only") }], { [DD]: 2 });
    assert.ok(blocked(await send(client, "/rc-only")));
    await agent.waitForSpans((span) => span.meta["_dd.appsec.event_rules.version"] === "42.0.0");
    await serve(agent, [], {});
    await agent.waitForRcRequest((r) => reported(r, idOf(DD)) === undefined);
    assert.ok(!blocked(await send(client, "/rc-only")));
    await send(client, "/after-ruleset", { "user-agent": MONITORED_USER_AGENT });
    await agent.waitForSpans(
      (span) =>
        span.resource.includes("/after-ruleset") &&
        /^1\.\d+\.\d+$/.test(span.meta["_dd.appsec.event_rules.version"] ?? ""),
    );
  });

  test("bad payloads: each reported as an error, the good configs still apply", async () => {
    const good = { path: DATA, content: blockedIps([{ value: "203.0.113.5", expiration: 0 }]) };
    const override = { path: ASM, content: blockingOverride(MONITORING_RULE) };
    await serve(agent, [good, override], { [DATA]: 2, [ASM]: 2 });
    assert.equal((await send(client, "/", { "user-agent": MONITORED_USER_AGENT })).status, 403);

    const invalidJson = { path: "datadog/2/ASM/invalid-json/config", raw: "{ nope" };
    const wrongTypes = {
      path: ASM,
      content: { rules_override: "should be a list" },
      version: 2,
    };
    const unknownProduct = { path: "datadog/2/LIVE_DEBUGGING/x/config", content: {} };
    const missing = { path: "datadog/2/ASM_DATA/missing/config", content: blockedIps([]) };
    const newer = {
      path: DATA,
      content: blockedIps([{ value: "203.0.113.6", expiration: 0 }]),
      version: 2,
    };
    const request = await serve(
      agent,
      [newer, invalidJson, wrongTypes, unknownProduct, missing],
      {
        [DATA]: 2,
        [invalidJson.path]: 3,
        [ASM]: 3,
        [unknownProduct.path]: 3,
        [missing.path]: 3,
      },
      [missing.path],
    );
    const reasons = request.client.state.config_states
      .filter((s) => s.apply_state === 3)
      .map((s) => `${s.id}: ${s.apply_error}`);
    assert.equal(reasons.length, 4, reasons.join("\n"));
    for (const reason of reasons) assert.ok((reason.split(": ")[1] ?? "").length > 0, reason);

    assert.ok(
      blocked(await send(client, "/", { "x-forwarded-for": "203.0.113.6" })),
      "newer data applied",
    );
    assert.equal(
      (await send(client, "/", { "user-agent": MONITORED_USER_AGENT })).status,
      403,
      "the previous override still works",
    );
    assert.ok(processor.child.exitCode === null, "still running");

    // Later changes to other configs apply while the bad files are still served.
    const newest = {
      ...newer,
      content: blockedIps([{ value: "203.0.113.7", expiration: 0 }]),
      version: 3,
    };
    await serve(
      agent,
      [newest, invalidJson, wrongTypes, unknownProduct, missing],
      { [DATA]: 2, [invalidJson.path]: 3, [ASM]: 3 },
      [missing.path],
    );
    await agent.waitForRcRequest(
      (r) => r.client.state.config_states.find((c) => c.id === idOf(DATA))?.version === 3,
    );
    assert.ok(blocked(await send(client, "/", { "x-forwarded-for": "203.0.113.7" })));

    await serve(agent, [], {});
    await agent.waitForRcRequest((r) => r.client.state.config_states.length === 0);
  });

  test("a response broken as a whole is reported with has_error", async () => {
    const waiting = agent.waitForRcRequest((r) => r.client.state.has_error);
    agent.serveRawRemoteConfig('{"targets": "not base64 json"}');
    await waiting;
    agent.serveRemoteConfig([]);
    await agent.waitForRcRequest((r) => !r.client.state.has_error);
  });

  test("the Agent goes away and comes back: polling resumes, one warning, configs stay in force", async () => {
    await serve(
      agent,
      [{ path: DATA, content: blockedIps([{ value: "203.0.113.9", expiration: 0 }]) }],
      { [DATA]: 2 },
    );
    const polled = agent.rcRequests.length;
    const logged = processor.logs.length;
    await agent.down();
    // 3 s at a 0.1 s interval is thirty intervals: the equivalent of minutes at 5 s.
    await sleep(3000);
    assert.ok(blocked(await send(client, "/", { "x-forwarded-for": "203.0.113.9" })));
    await agent.up();
    await agent.waitForRcRequest(() => true);
    assert.ok(agent.rcRequests.length > polled);
    await processor.waitForLog((l) => l.msg === "Agent reachable again for Remote Configuration");
    const lines = processor.logs.slice(logged).filter((l) => l.component === "remote-config");
    const warnings = lines.filter((l) => l.level === "warn" || l.level === "error");
    assert.deepEqual(
      warnings.map((l) => l.msg),
      ["cannot poll the Agent for Remote Configuration; retrying with backoff"],
    );
    assert.equal(
      lines.filter((l) => l.msg === "Agent reachable again for Remote Configuration").length,
      1,
    );
    // Over this whole run, every poll came from the processor's client, none from dd-trace's.
    assert.ok(agent.rcRequests.every((r) => !r.client.products.includes("APM_TRACING")));
    assert.equal(new Set(agent.rcRequests.map((r) => r.client.id)).size, 1);
  });
});

/** Sends on a new connection each time: the primary hands connections to the workers in turn. */
async function sendOnNewConnection(processor: ProcessorProcess, extra: Record<string, string>) {
  const client = createClient(`127.0.0.1:${processor.grpcPort}`);
  try {
    return await send(client, "/", extra);
  } finally {
    client.close();
  }
}

describe("Remote Configuration with two workers", () => {
  let agent: FakeAgent;
  let processor: ProcessorProcess;
  before(async () => {
    agent = await startFakeAgent();
    processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_SERVICE_EXTENSION_WORKERS: "2",
      DD_TRACE_AGENT_URL: agent.url,
      DD_REMOTE_CONFIG_POLL_INTERVAL_SECONDS: POLL_SECONDS,
    });
  });
  after(async () => {
    await processor.stop();
    await agent.stop();
  });

  test("the primary polls alone; both workers apply; a replacement worker starts with the current config", async () => {
    const attacker = { "x-forwarded-for": "198.51.100.77" };
    await serve(
      agent,
      [{ path: DATA, content: blockedIps([{ value: "198.51.100.77", expiration: 0 }]) }],
      { [DATA]: 2 },
    );
    // The workers apply right after the primary: allow them a moment, then every one blocks.
    const deadline = Date.now() + 5000;
    let streak = 0;
    while (streak < 4) {
      streak = blocked(await sendOnNewConnection(processor, attacker)) ? streak + 1 : 0;
      assert.ok(Date.now() < deadline, "every worker blocks within the deadline");
    }
    assert.equal(new Set(agent.rcRequests.map((r) => r.client.id)).size, 1, "one client per pod");
    const applied = await appliesOf(processor, "primary", "ASM_DATA", "applied");
    assert.equal(applied, 1, "the primary counts its apply, once");

    const workers = processor.logs
      .filter((l) => l.msg === "ext_proc server listening")
      .map((l) => Number(l.pid));
    assert.equal(workers.length, 2);
    process.kill(workers[0] ?? -1, "SIGKILL");
    await processor.waitForLog(
      (l) => l.msg === "ext_proc server listening" && !workers.includes(Number(l.pid)),
      20_000,
    );
    // The replacement serves only once it has the configuration: no retry needed here.
    for (let i = 0; i < 6; i++) {
      assert.ok(blocked(await sendOnNewConnection(processor, attacker)), `connection ${i}`);
      assert.ok(
        !blocked(await sendOnNewConnection(processor, { "x-forwarded-for": "198.51.100.78" })),
      );
    }
  });
});

describe("what the processor subscribes to", () => {
  let agent: FakeAgent;
  before(async () => {
    agent = await startFakeAgent();
  });
  after(() => agent.stop());

  /** The first poll of a processor started with `env`, stopped when the test ends. */
  async function firstRequest(t: TestContext, env: Record<string, string>): Promise<RcRequest> {
    const waiting = agent.waitForRcRequest(() => true);
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_TRACE_AGENT_URL: agent.url,
      DD_REMOTE_CONFIG_POLL_INTERVAL_SECONDS: POLL_SECONDS,
      ...env,
    });
    t.after(() => processor.stop());
    return waiting;
  }

  test("observability mode: no blocking capabilities", async (t) => {
    const request = await firstRequest(t, { DD_SERVICE_EXTENSION_OBSERVABILITY_MODE: "true" });
    const expected = subscriptionFor({ blocking: false, rulesPinned: false });
    assert.equal(request.client.capabilities, encodeCapabilities(expected.capabilities));
    assert.notEqual(request.client.capabilities, "DA8ABwe8");
  });

  test("DD_APPSEC_RULES pins the ruleset: ASM_DD is not requested", async (t) => {
    const request = await firstRequest(t, { DD_APPSEC_RULES: TEST_RULES });
    assert.deepEqual([...request.client.products].sort(), ["ASM", "ASM_DATA"]);
  });

  test("DD_REMOTE_CONFIGURATION_ENABLED=false: nothing polls, neither the processor nor dd-trace", async (t) => {
    const before = agent.rcRequests.length;
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_TRACE_AGENT_URL: agent.url,
      DD_REMOTE_CONFIG_POLL_INTERVAL_SECONDS: POLL_SECONDS,
      DD_REMOTE_CONFIGURATION_ENABLED: "false",
    });
    t.after(() => processor.stop());
    await sleep(1000);
    assert.equal(agent.rcRequests.length, before);
  });
});
