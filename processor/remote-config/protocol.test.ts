import assert from "node:assert/strict";
import { test } from "node:test";
import { rcResponse } from "../../test/support/remote-config.ts";
import {
  CAPABILITY,
  encodeCapabilities,
  PRODUCTS,
  parseAgentResponse,
  parseConfigPath,
  subscriptionFor,
} from "./protocol.ts";

test("capabilities: base64 of the minimal big-endian bitfield", () => {
  assert.equal(encodeCapabilities([]), "AA==");
  assert.equal(encodeCapabilities([2]), "BA==");
  assert.equal(encodeCapabilities([8]), "AQA=");
});

test("blocking subscription: the Go processor's proxy capabilities without RASP (DA8ABwe8)", () => {
  const { products, capabilities } = subscriptionFor({ blocking: true, rulesPinned: false });
  assert.equal(encodeCapabilities(capabilities), "DA8ABwe8");
  assert.deepEqual([...products].sort(), [PRODUCTS.ASM, PRODUCTS.ASM_DATA, PRODUCTS.ASM_DD]);
});

test("observability mode: no blocking capabilities", () => {
  const { capabilities } = subscriptionFor({ blocking: false, rulesPinned: false });
  for (const bit of [2, 5, 7, 9]) assert.ok(!capabilities.includes(bit), `bit ${bit}`);
  assert.ok(capabilities.includes(CAPABILITY.ASM_EXCLUSIONS));
});

test("a pinned ruleset (DD_APPSEC_RULES): ASM_DD neither requested nor advertised", () => {
  const { products, capabilities } = subscriptionFor({ blocking: true, rulesPinned: true });
  assert.ok(!products.includes(PRODUCTS.ASM_DD));
  assert.ok(!capabilities.includes(CAPABILITY.ASM_DD_RULES));
  assert.ok(products.includes(PRODUCTS.ASM_DATA));
});

test("config paths: datadog/<org>/<product>/<id>/<name> and employee/<product>/<id>/<name>", () => {
  assert.deepEqual(parseConfigPath("datadog/2/ASM_DATA/blocked/config"), {
    product: "ASM_DATA",
    id: "blocked",
    name: "config",
  });
  assert.deepEqual(parseConfigPath("employee/ASM_DD/base/config"), {
    product: "ASM_DD",
    id: "base",
    name: "config",
  });
  assert.equal(parseConfigPath("datadog/x/ASM/a/config"), undefined);
  assert.equal(parseConfigPath("datadog/2/ASM/config"), undefined);
  assert.equal(parseConfigPath(""), undefined);
});

test("responses: {} and an empty body mean nothing changed", () => {
  for (const body of ["{}", ""]) {
    const parsed = parseAgentResponse(body);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.targets, undefined);
  }
});

test("responses: targets decoded with versions, hashes and the backend state", () => {
  const body = rcResponse([{ path: "datadog/2/ASM/a/config", content: { x: 1 }, version: 7 }], {
    targetsVersion: 42,
    backendState: "opaque",
  });
  const parsed = parseAgentResponse(JSON.stringify(body));
  assert.ok(parsed.ok);
  assert.equal(parsed.value.targets?.version, 42);
  assert.equal(parsed.value.targets?.backendState, "opaque");
  assert.equal(parsed.value.targets?.entries.get("datadog/2/ASM/a/config")?.version, 7);
  assert.deepEqual(parsed.value.clientConfigs, ["datadog/2/ASM/a/config"]);
  assert.equal(parsed.value.files.get("datadog/2/ASM/a/config")?.toString(), '{"x":1}');
});

test("responses broken as a whole are errors with a reason", () => {
  const cases: Array<[string, RegExp]> = [
    ["not json", /not JSON/],
    ["[]", /not a JSON object/],
    ['{"targets": 3}', /targets is not a string/],
    ['{"targets": "bm9wZQ=="}', /not base64 JSON/],
    ['{"client_configs": "x"}', /client_configs/],
    ['{"target_files": [{"path": 1}]}', /target_files/],
  ];
  for (const [body, reason] of cases) {
    const parsed = parseAgentResponse(body);
    assert.ok(!parsed.ok, body);
    assert.match(parsed.error, reason);
  }
});
