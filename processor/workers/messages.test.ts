import assert from "node:assert/strict";
import { test } from "node:test";
import { isPrimaryMessage, isWorkerMessage } from "./messages.ts";

test("worker messages: ready and the request for the Remote Configuration", () => {
  assert.ok(isWorkerMessage({ kind: "ready" }));
  assert.ok(isWorkerMessage({ kind: "waf-configs-request" }));
  assert.ok(!isWorkerMessage({ kind: "drain" }));
  assert.ok(!isWorkerMessage(null));
  assert.ok(!isWorkerMessage("ready"));
});

test("primary messages: drain, and configs only with a list of configs", () => {
  assert.ok(isPrimaryMessage({ kind: "drain" }));
  assert.ok(isPrimaryMessage({ kind: "waf-configs", snapshot: { configs: [] } }));
  assert.ok(!isPrimaryMessage({ kind: "waf-configs" }));
  assert.ok(!isPrimaryMessage({ kind: "waf-configs", snapshot: { configs: "x" } }));
  assert.ok(!isPrimaryMessage({ kind: "ready" }));
  assert.ok(!isPrimaryMessage(undefined));
});
