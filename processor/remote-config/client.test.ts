import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { rcResponse } from "../../test/support/remote-config.ts";
import { createLogger, type LogLevel } from "../log.ts";
import { ok } from "../result.ts";
import { type RemoteConfigClient, startRemoteConfig } from "./client.ts";
import type { HttpPost } from "./http.ts";
import { subscriptionFor } from "./protocol.ts";
import type { ApplyOutcome, ConfigChange } from "./state.ts";

/** The request fields the tests read. */
interface Body {
  client: {
    id: string;
    is_tracer: boolean;
    capabilities: string;
    products: string[];
    client_tracer: { service: string; env: string };
    state: {
      targets_version: number;
      has_error: boolean;
      config_states: Array<{ id: string; apply_state: number; apply_error?: string }>;
    };
  };
  cached_target_files: unknown[];
}

const identity = {
  runtimeId: "00000000-0000-4000-8000-000000000000",
  service: "svc",
  env: "test",
  appVersion: "1.0.0",
  tracerVersion: "6.21.0",
};

function harness(post: HttpPost, apply?: (changes: readonly ConfigChange[]) => ApplyOutcome[]) {
  const lines: Array<{ level: LogLevel; msg: string }> = [];
  const log = createLogger({
    level: "debug",
    sink: (line, level) => lines.push({ level, msg: (JSON.parse(line) as { msg: string }).msg }),
  });
  const applied: Array<[string, string]> = [];
  const client = startRemoteConfig({
    agentUrl: "http://agent.invalid:8126",
    pollIntervalMs: 10,
    maxBackoffMs: 40,
    subscription: subscriptionFor({ blocking: true, rulesPinned: false }),
    identity,
    apply: apply ?? ((changes) => changes.map((c) => ({ path: c.path, ...ok(undefined) }))),
    onApply: (product, result) => applied.push([product, result]),
    log,
    post,
  });
  return { client, lines, applied };
}

/** Waits until `condition` holds (the machine may be slow), failing after 5 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in 5 s");
    await sleep(10);
  }
}

function stopAfter(t: { after(fn: () => void): void }, client: RemoteConfigClient): void {
  t.after(() => client.stop());
}

test("each request carries the client, its products, capabilities and state", async (t) => {
  const bodies: Body[] = [];
  const { client } = harness(async (url, body) => {
    assert.equal(url, "http://agent.invalid:8126/v0.7/config");
    bodies.push(JSON.parse(body));
    return { status: 200, body: "{}" };
  });
  stopAfter(t, client);
  await until(() => bodies.length >= 2);
  const first = bodies[0];
  assert.ok(first);
  assert.equal(first.client.id, identity.runtimeId);
  assert.equal(first.client.is_tracer, true);
  assert.equal(first.client.capabilities, "DA8ABwe8");
  assert.deepEqual([...first.client.products].sort(), ["ASM", "ASM_DATA", "ASM_DD"]);
  assert.equal(first.client.client_tracer.service, "svc");
  assert.equal(first.client.client_tracer.env, "test");
  assert.equal(first.client.state.targets_version, 0);
  assert.deepEqual(first.cached_target_files, []);
  assert.ok(bodies.length >= 2, "keeps polling");
});

test("apply results are reported on the next poll and counted through onApply", async (t) => {
  const path = "datadog/2/ASM/a/config";
  const bodies: Body[] = [];
  const response = JSON.stringify(
    rcResponse(
      [
        { path, content: { custom_rules: [] } },
        { path: "datadog/2/ASM/b/config", raw: "{" },
      ],
      { targetsVersion: 5 },
    ),
  );
  const { client, applied } = harness(async (_url, body) => {
    bodies.push(JSON.parse(body));
    return { status: 200, body: response };
  });
  stopAfter(t, client);
  await until(() => bodies.length >= 2);
  const later = bodies.at(-1);
  assert.equal(later?.client.state.targets_version, 5);
  const states = Object.fromEntries(
    (later?.client.state.config_states ?? []).map((s) => [s.id, s.apply_state]),
  );
  assert.deepEqual(states, { a: 2, b: 3 });
  assert.deepEqual(applied.sort(), [
    ["ASM", "error"],
    ["ASM", "ok"],
  ]);
});

test("a 404 (Remote Configuration off at the Agent) is logged once, polling continues", async (t) => {
  let polls = 0;
  const { client, lines } = harness(async () => {
    polls += 1;
    return { status: 404, body: "" };
  });
  stopAfter(t, client);
  await until(() => polls >= 3);
  assert.ok(polls >= 3, `${polls} polls`);
  assert.equal(lines.filter((l) => /disabled at the Agent/.test(l.msg)).length, 1);
  assert.deepEqual(
    lines.filter((l) => l.level === "warn" || l.level === "error"),
    [],
  );
});

test("an unreachable Agent: backoff, one warning for the outage, one line when it returns", async (t) => {
  let down = true;
  const at: number[] = [];
  const { client, lines } = harness(async () => {
    at.push(Date.now());
    if (down) throw new Error("connect ECONNREFUSED");
    return { status: 200, body: "{}" };
  });
  stopAfter(t, client);
  await sleep(300);
  const gaps = at.slice(1).map((time, i) => time - (at[i] ?? time));
  assert.ok(
    gaps.slice(2).every((gap) => gap >= 35),
    `backoff reaches the ceiling: ${gaps}`,
  );
  assert.ok(at.length < 15, `${at.length} polls in 300 ms while down`);
  down = false;
  await until(() => lines.some((l) => /reachable again/.test(l.msg)));
  const loud = lines.filter(
    (l) => l.level !== "debug" && l.msg !== "Remote Configuration polling the Agent",
  );
  assert.deepEqual(
    loud.map((l) => l.msg),
    [
      "cannot poll the Agent for Remote Configuration; retrying with backoff",
      "Agent reachable again for Remote Configuration",
    ],
  );
});

test("an unusable response is reported as has_error; an apply that throws is an error per config", async (t) => {
  const bodies: Body[] = [];
  let reply = "not json";
  const { client, lines } = harness(
    async (_url, body) => {
      bodies.push(JSON.parse(body));
      return { status: 200, body: reply };
    },
    () => {
      throw new Error("bug");
    },
  );
  stopAfter(t, client);
  await until(() => bodies.length >= 2);
  assert.equal(bodies.at(-1)?.client.state.has_error, true);
  reply = JSON.stringify(
    rcResponse([{ path: "datadog/2/ASM/a/config", content: {} }], { targetsVersion: 1 }),
  );
  const seen = bodies.length;
  await until(() => bodies.length >= seen + 2);
  const state = bodies.at(-1)?.client.state;
  assert.equal(state?.has_error, false);
  assert.equal(state?.config_states[0]?.apply_state, 3);
  assert.equal(state?.config_states[0]?.apply_error, "internal error while applying");
  assert.ok(lines.some((l) => l.msg === "applying Remote Configuration threw"));
});
