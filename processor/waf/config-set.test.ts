import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BLOCK_401,
  blockedIps,
  blockingOverride,
  exclusion,
  MONITORED_USER_AGENT,
  MONITORING_RULE,
  manyIps,
  smallRuleset,
} from "../../test/support/rc-payloads.ts";
import { silentLogger } from "../log.ts";
import { ADDRESSES } from "./addresses.ts";
import { createWafEngine, type WafEngine } from "./engine.ts";

const DATA = "datadog/2/ASM_DATA/blocked/config";
const ASM = "datadog/2/ASM/custom/config";
const DD = "datadog/2/ASM_DD/rules/config";

function engineFor(t: { after(fn: () => void): void }): WafEngine {
  const engine = createWafEngine({ log: silentLogger });
  t.after(() => engine.dispose());
  return engine;
}

function verdict(engine: WafEngine, addresses: Record<string, unknown>) {
  const context = engine.createContext();
  const result = context.run(addresses, 1_000_000);
  context.dispose();
  return result;
}

const fromIp = (ip: string) => ({ [ADDRESSES.CLIENT_IP]: ip });
const scanner = (path: string) => ({
  [ADDRESSES.REQUEST_URI_RAW]: path,
  [ADDRESSES.REQUEST_HEADERS_NO_COOKIES]: { "user-agent": MONITORED_USER_AGENT },
});

test("blocked IPs load, expired entries are ignored, removal unblocks", (t) => {
  const engine = engineFor(t);
  const past = Math.floor(Date.now() / 1000) - 60;
  const entries = [
    ...manyIps(100),
    { value: "192.0.2.1", expiration: 0 },
    { value: "192.0.2.2", expiration: past },
  ];
  const [outcome] = engine.updateConfigs([
    { path: DATA, ruleset: false, config: blockedIps(entries) },
  ]);
  assert.deepEqual(outcome, { path: DATA, ok: true, value: undefined });
  assert.equal(verdict(engine, fromIp("192.0.2.1")).actions[0]?.kind, "block");
  assert.equal(verdict(engine, fromIp("10.0.0.42")).actions[0]?.kind, "block");
  assert.deepEqual(verdict(engine, fromIp("192.0.2.2")).actions, []);
  assert.deepEqual(verdict(engine, fromIp("192.0.2.3")).actions, []);
  engine.updateConfigs([{ path: DATA, ruleset: false, config: undefined }]);
  assert.deepEqual(verdict(engine, fromIp("192.0.2.1")).actions, []);
});

test("a stream started before an update keeps its rules; new streams see the update", (t) => {
  const engine = engineFor(t);
  const before = engine.createContext();
  engine.updateConfigs([{ path: DATA, ruleset: false, config: blockedIps(manyIps(1)) }]);
  assert.deepEqual(before.run(fromIp("10.0.0.0"), 1_000_000).actions, []);
  before.dispose();
  assert.equal(verdict(engine, fromIp("10.0.0.0")).actions[0]?.kind, "block");
});

test("rule override, custom action and exclusion", (t) => {
  const engine = engineFor(t);
  assert.deepEqual(verdict(engine, scanner("/")).actions, []);
  assert.ok(verdict(engine, scanner("/")).events.length > 0, "monitoring rule fires");
  engine.updateConfigs([
    { path: ASM, ruleset: false, config: { ...blockingOverride(MONITORING_RULE), ...BLOCK_401 } },
  ]);
  assert.deepEqual(
    verdict(engine, scanner("/")).actions.map((a) => [a.kind, a.status]),
    [["block", 401]],
  );
  engine.updateConfigs([
    {
      path: ASM,
      ruleset: false,
      config: { ...blockingOverride(MONITORING_RULE), ...exclusion(MONITORING_RULE, "/health") },
    },
  ]);
  assert.equal(verdict(engine, scanner("/")).actions[0]?.status, 403);
  assert.deepEqual(verdict(engine, scanner("/health")).events, []);
  engine.updateConfigs([{ path: ASM, ruleset: false, config: undefined }]);
  assert.deepEqual(verdict(engine, scanner("/")).actions, []);
});

test("a partly invalid config is an error and the previous content of its path stays", (t) => {
  const engine = engineFor(t);
  engine.updateConfigs([{ path: ASM, ruleset: false, config: blockingOverride(MONITORING_RULE) }]);
  const broken = { ...exclusion(MONITORING_RULE, "/x"), rules_override: "not a list" };
  const [outcome] = engine.updateConfigs([{ path: ASM, ruleset: false, config: broken }]);
  assert.equal(outcome?.ok, false);
  assert.match(outcome && !outcome.ok ? outcome.error : "", /rules_override/);
  assert.equal(verdict(engine, scanner("/x")).actions[0]?.kind, "block", "previous override kept");
  const [other] = engine.updateConfigs([
    { path: DATA, ruleset: false, config: blockedIps(manyIps(1)) },
  ]);
  assert.equal(other?.ok, true, "later changes to other paths still apply");
});

test("an ASM_DD ruleset replaces the bundled one and its version; removing it restores both", (t) => {
  const engine = engineFor(t);
  const bundled = engine.rulesVersion;
  const [outcome] = engine.updateConfigs([
    { path: DD, ruleset: true, config: smallRuleset("9.9.9", "/rc-marker") },
  ]);
  assert.equal(outcome?.ok, true);
  assert.equal(engine.rulesVersion, "9.9.9");
  assert.equal(engine.loadedRules, 1);
  assert.equal(
    verdict(engine, { [ADDRESSES.REQUEST_URI_RAW]: "/rc-marker" }).actions[0]?.kind,
    "block",
  );
  assert.deepEqual(verdict(engine, scanner("/")).events, [], "bundled rules are gone");
  engine.updateConfigs([{ path: DD, ruleset: true, config: undefined }]);
  assert.equal(engine.rulesVersion, bundled);
  assert.ok(verdict(engine, scanner("/")).events.length > 0);
});

test("a ruleset with no loadable rule is refused and the bundled ruleset stays", (t) => {
  const engine = engineFor(t);
  const bundled = engine.rulesVersion;
  const [outcome] = engine.updateConfigs([
    {
      path: DD,
      ruleset: true,
      config: { version: "2.2", metadata: { rules_version: "0.0.0" }, rules: [] },
    },
  ]);
  assert.equal(outcome?.ok, false);
  assert.equal(engine.rulesVersion, bundled);
  assert.ok(verdict(engine, scanner("/")).events.length > 0);
});

test("a ruleset with one rule libddwaf cannot load: the others serve, the failure is counted", (t) => {
  const engine = engineFor(t);
  const ruleset = smallRuleset("9.9.10", "/rc-marker") as { rules: object[] };
  const broken = { id: "rc-broken-rule", name: "broken", tags: { type: "t" }, conditions: [] };
  const [outcome] = engine.updateConfigs([
    { path: DD, ruleset: true, config: { ...ruleset, rules: [...ruleset.rules, broken] } },
  ]);
  assert.equal(outcome?.ok, true);
  assert.equal(engine.loadedRules, 1);
  assert.deepEqual(engine.failedRules, ["rc-broken-rule"]);
  assert.equal(
    verdict(engine, { [ADDRESSES.REQUEST_URI_RAW]: "/rc-marker" }).actions[0]?.kind,
    "block",
  );
});

test("a disposed engine refuses updates", () => {
  const engine = createWafEngine({ log: silentLogger });
  engine.dispose();
  const [outcome] = engine.updateConfigs([{ path: DATA, ruleset: false, config: {} }]);
  assert.equal(outcome?.ok, false);
});
