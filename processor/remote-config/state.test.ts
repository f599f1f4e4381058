import assert from "node:assert/strict";
import { test } from "node:test";
import { rcResponse, type ServedConfig } from "../../test/support/remote-config.ts";
import { err, ok } from "../result.ts";
import { APPLY_STATE, parseAgentResponse } from "./protocol.ts";
import { RemoteConfigState } from "./state.ts";

const DATA = "datadog/2/ASM_DATA/blocked/config";
const ASM = "datadog/2/ASM/custom/config";

function respond(state: RemoteConfigState, configs: ServedConfig[], version: number) {
  const parsed = parseAgentResponse(
    JSON.stringify(rcResponse(configs, { targetsVersion: version })),
  );
  assert.ok(parsed.ok);
  return state.ingest(parsed.value);
}

const acknowledge =
  (state: RemoteConfigState) =>
  (change: { path: string }): void => {
    state.record({ path: change.path, ...ok(undefined) });
  };

const stateOf = (state: RemoteConfigState, path: string) =>
  state.configs.find((c) => c.path === path);

test("first request: version 0, no configs, no cached files", () => {
  const state = new RemoteConfigState(["ASM"]);
  assert.deepEqual(state.requestState(), {
    root_version: 1,
    targets_version: 0,
    config_states: [],
    has_error: false,
  });
  assert.deepEqual(state.cachedFiles(), []);
});

test("new configs become changes; acknowledged ones are reported with version and hash", () => {
  const state = new RemoteConfigState(["ASM", "ASM_DATA"]);
  const { changes, rejected } = respond(
    state,
    [
      { path: DATA, content: { rules_data: [] }, version: 3 },
      { path: ASM, content: { custom_rules: [] } },
    ],
    10,
  );
  assert.deepEqual(rejected, []);
  assert.deepEqual(
    changes.map((c) => [c.kind, c.path]),
    [
      ["apply", ASM],
      ["apply", DATA],
    ],
  );
  for (const c of changes) state.record({ path: c.path, ...ok(undefined) });
  const request = state.requestState();
  assert.equal(request.targets_version, 10);
  assert.equal(request.backend_client_state, "state");
  assert.deepEqual(
    request.config_states.find((c) => c.id === "blocked"),
    { id: "blocked", version: 3, product: "ASM_DATA", apply_state: APPLY_STATE.ACKNOWLEDGED },
  );
  assert.equal(state.cachedFiles().length, 2);
  assert.equal(state.cachedFiles()[0]?.hashes[0]?.algorithm, "sha256");
});

test("an unchanged hash is not applied again, even when the Agent omits the cached file", () => {
  const state = new RemoteConfigState(["ASM"]);
  const served = [{ path: ASM, content: { custom_rules: [] } }];
  respond(state, served, 1).changes.forEach(acknowledge(state));
  const parsed = parseAgentResponse(
    JSON.stringify(rcResponse(served, { targetsVersion: 2, omitFiles: [ASM] })),
  );
  assert.ok(parsed.ok);
  assert.deepEqual(state.ingest(parsed.value).changes, []);
  assert.equal(stateOf(state, ASM)?.applyState, APPLY_STATE.ACKNOWLEDGED);
});

test("a config no longer served is removed; one never applied is just forgotten", () => {
  const state = new RemoteConfigState(["ASM", "ASM_DATA"]);
  respond(
    state,
    [
      { path: ASM, content: {} },
      { path: DATA, raw: "{" },
    ],
    1,
  ).changes.forEach(acknowledge(state));
  const { changes } = respond(state, [], 2);
  assert.deepEqual(changes, [{ kind: "remove", path: ASM, product: "ASM" }]);
  assert.deepEqual(state.configs, []);
});

test("{} changes nothing", () => {
  const state = new RemoteConfigState(["ASM"]);
  respond(state, [{ path: ASM, content: {} }], 1).changes.forEach(acknowledge(state));
  const parsed = parseAgentResponse("{}");
  assert.ok(parsed.ok);
  assert.deepEqual(state.ingest(parsed.value).changes, []);
  assert.equal(state.configs.length, 1);
});

test("one bad file is an error on its own path and does not stop the others", () => {
  const state = new RemoteConfigState(["ASM", "ASM_DATA"]);
  const bad: ServedConfig[] = [
    { path: "datadog/2/ASM/broken/config", raw: "{not json" },
    { path: "datadog/2/ASM/list/config", content: [1, 2] },
    { path: "datadog/2/APM_TRACING/x/config", content: {} },
    { path: "not/a/path", content: {} },
  ];
  const { changes, rejected } = respond(state, [...bad, { path: DATA, content: {} }], 1);
  assert.deepEqual(
    changes.map((c) => c.path),
    [DATA],
  );
  const reasons = Object.fromEntries(rejected.map((r) => [r.path, r.error]));
  assert.match(reasons["datadog/2/ASM/broken/config"] ?? "", /not valid JSON/);
  assert.match(reasons["datadog/2/ASM/list/config"] ?? "", /not a JSON object/);
  assert.match(reasons["datadog/2/APM_TRACING/x/config"] ?? "", /APM_TRACING is not subscribed/);
  assert.match(reasons["not/a/path"] ?? "", /not a Remote Configuration path/);
  for (const { path } of bad) {
    assert.equal(stateOf(state, path)?.applyState, APPLY_STATE.ERROR, path);
  }
  // The same bad file served again is not re-parsed; its error stays reported.
  assert.deepEqual(respond(state, [...bad, { path: DATA, content: {} }], 2).rejected, []);
  assert.equal(stateOf(state, "datadog/2/ASM/broken/config")?.applyState, APPLY_STATE.ERROR);
});

test("a file missing from the response is an error, retried on the next poll", () => {
  const state = new RemoteConfigState(["ASM"]);
  const served = [{ path: ASM, content: { custom_rules: [] } }];
  const parsed = parseAgentResponse(
    JSON.stringify(rcResponse(served, { targetsVersion: 1, omitFiles: [ASM] })),
  );
  assert.ok(parsed.ok);
  const first = state.ingest(parsed.value);
  assert.match(first.rejected[0]?.error ?? "", /missing/);
  assert.deepEqual(state.cachedFiles(), []);
  assert.equal(respond(state, served, 2).changes.length, 1);
});

test("a file whose hash does not match its target entry is rejected", () => {
  const state = new RemoteConfigState(["ASM"]);
  const body = rcResponse([{ path: ASM, content: { a: 1 } }], { targetsVersion: 1 }) as {
    target_files: Array<{ raw: string }>;
  };
  const file = body.target_files[0];
  assert.ok(file);
  file.raw = Buffer.from('{"a":2}').toString("base64");
  const parsed = parseAgentResponse(JSON.stringify(body));
  assert.ok(parsed.ok);
  assert.match(state.ingest(parsed.value).rejected[0]?.error ?? "", /hash/);
});

test("an apply error keeps the config tracked as applied, with the reason reported", () => {
  const state = new RemoteConfigState(["ASM"]);
  respond(state, [{ path: ASM, content: { v: 1 } }], 1).changes.forEach(acknowledge(state));
  respond(state, [{ path: ASM, content: { v: 2 }, version: 2 }], 2).changes.forEach((c) => {
    state.record({ path: c.path, ...err("libddwaf rejected the config") });
  });
  const reported = state.requestState().config_states[0];
  assert.equal(reported?.apply_state, APPLY_STATE.ERROR);
  assert.equal(reported?.apply_error, "libddwaf rejected the config");
  // Removing it still unapplies the version that is in force.
  assert.equal(respond(state, [], 3).changes[0]?.kind, "remove");
});

test("a response unusable as a whole is reported with has_error on the next request", () => {
  const state = new RemoteConfigState(["ASM"]);
  state.failResponse("targets is not base64 JSON");
  assert.equal(state.requestState().has_error, true);
  assert.equal(state.requestState().error, "targets is not base64 JSON");
  respond(state, [], 1);
  assert.equal(state.requestState().has_error, false);
});
