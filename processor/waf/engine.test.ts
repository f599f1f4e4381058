import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createLogger, silentLogger } from "../log.ts";
import { ADDRESSES } from "./addresses.ts";
import { createWafEngine } from "./engine.ts";
import { isWafLoadError, type WafLoadErrorCode } from "./errors.ts";
import { DEFAULT_OBFUSCATOR_KEY_REGEX, DEFAULT_OBFUSCATOR_VALUE_REGEX } from "./obfuscation.ts";

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../test/fixtures/rules/${name}`, import.meta.url));
const ruleIds = (events: readonly unknown[]): string[] =>
  events.map((event) => (event as { rule: { id: string } }).rule.id);
const collect = () => {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: createLogger({ sink: (line) => lines.push(JSON.parse(line)) }) };
};

test("the recommended ruleset from dd-trace loads", (t) => {
  const engine = createWafEngine({ log: silentLogger });
  t.after(() => engine.dispose());
  assert.ok(engine.loadedRules > 150, `loaded ${engine.loadedRules}`);
  assert.deepEqual(engine.failedRules, []);
  assert.match(engine.wafVersion, /^\d+\.\d+\.\d+$/);
  assert.match(engine.rulesVersion ?? "", /^\d+\.\d+\.\d+$/);
});

test("DD_APPSEC_RULES file loads instead", (t) => {
  const engine = createWafEngine({ rulesPath: fixture("test-rules.json"), log: silentLogger });
  t.after(() => engine.dispose());
  assert.equal(engine.rulesVersion, "0.0.1-test");
  assert.equal(engine.loadedRules, 21);
});

/** A temporary directory for a ruleset file; all of them are removed after the file's tests. */
const rulesDirs: string[] = [];
function rulesDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "waf-rules-"));
  rulesDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of rulesDirs) rmSync(dir, { recursive: true, force: true });
});

function invalidJsonFile(): string {
  const path = join(rulesDir(), "broken.json");
  writeFileSync(path, '{"version": "2.2", "rules": [');
  return path;
}

const loadFailures: Array<[string, () => string, WafLoadErrorCode]> = [
  ["a missing file", () => "/nonexistent/rules.json", "rules-read"],
  ["invalid JSON", invalidJsonFile, "rules-json"],
  ["a ruleset with zero rules", () => fixture("no-rules.json"), "no-rules"],
];

for (const [name, path, code] of loadFailures) {
  test(`${name} stops startup with WafLoadError ${code}`, () => {
    assert.throws(
      () => createWafEngine({ rulesPath: path(), log: silentLogger }),
      (error) => isWafLoadError(error) && error.code === code && error.message.length > 0,
    );
  });
}

test("a JSON file that is not an object is rules-json", () => {
  const path = join(rulesDir(), "array.json");
  writeFileSync(path, "[]");
  assert.throws(
    () => createWafEngine({ rulesPath: path, log: silentLogger }),
    (error) => isWafLoadError(error) && error.code === "rules-json",
  );
});

test("a ruleset whose rules all fail is no-rules, and the failures are logged", () => {
  const path = join(rulesDir(), "only-bad.json");
  const ruleset = JSON.parse(readFileSync(fixture("one-bad-rule.json"), "utf8"));
  ruleset.rules = ruleset.rules.filter((rule: { id: string }) => rule.id === "tst-bad-001");
  writeFileSync(path, JSON.stringify(ruleset));
  const { lines, log } = collect();
  assert.throws(
    () => createWafEngine({ rulesPath: path, log }),
    (error) =>
      isWafLoadError(error) && error.code === "no-rules" && /tst-bad-001/.test(error.message),
  );
  const failure = lines.find((line) => line.msg === "WAF ruleset items failed to load");
  assert.deepEqual(failure?.ids, ["tst-bad-001"]);
});

test("a ruleset of a schema version libddwaf does not know is rules-invalid", () => {
  const path = join(rulesDir(), "v3.json");
  const ruleset = JSON.parse(readFileSync(fixture("one-bad-rule.json"), "utf8"));
  writeFileSync(path, JSON.stringify({ ...ruleset, version: "3.0" }));
  assert.throws(
    () => createWafEngine({ rulesPath: path, log: silentLogger }),
    (error) => isWafLoadError(error) && error.code === "rules-invalid",
  );
});

test("malformed rule entries are reported by position", () => {
  const path = join(rulesDir(), "garbage.json");
  writeFileSync(path, JSON.stringify({ version: "2.2", custom_rules: [1] }));
  assert.throws(
    () => createWafEngine({ rulesPath: path, log: silentLogger }),
    (error) => isWafLoadError(error) && error.code === "no-rules" && /index:0/.test(error.message),
  );
});

test("a rule that fails to load is logged with its id and error", (t) => {
  const { lines, log } = collect();
  const engine = createWafEngine({ rulesPath: fixture("one-bad-rule.json"), log });
  t.after(() => engine.dispose());
  assert.equal(engine.loadedRules, 1);
  assert.deepEqual(engine.failedRules, ["tst-bad-001"]);
  const failure = lines.find((line) => line.msg === "WAF ruleset items failed to load");
  assert.ok(failure);
  assert.equal(failure.level, "error");
  assert.equal(failure.section, "rules");
  assert.deepEqual(failure.ids, ["tst-bad-001"]);
  assert.match(String(failure.error), /conditions/);
});

test("obfuscation defaults equal dd-trace's (drift check)", () => {
  const require = createRequire(import.meta.url);
  const {
    supportedConfigurations: settings,
  } = require("dd-trace/packages/dd-trace/src/config/supported-configurations.json");
  assert.equal(
    DEFAULT_OBFUSCATOR_KEY_REGEX,
    settings.DD_APPSEC_OBFUSCATION_PARAMETER_KEY_REGEXP[0].default,
  );
  assert.equal(
    DEFAULT_OBFUSCATOR_VALUE_REGEX,
    settings.DD_APPSEC_OBFUSCATION_PARAMETER_VALUE_REGEXP[0].default,
  );
});

test("sensitive values are redacted in events; custom obfuscator regexes apply", (t) => {
  const query = { [ADDRESSES.REQUEST_QUERY]: { password: ["<script>alert(1)</script>"] } };
  const serialized = (keyRegex?: string) => {
    const engine = createWafEngine({ obfuscatorKeyRegex: keyRegex, log: silentLogger });
    t.after(() => engine.dispose());
    const context = engine.createContext();
    const { events } = context.run(query, 100_000);
    context.dispose();
    assert.equal(events.length, 1);
    return JSON.stringify(events);
  };
  assert.ok(serialized().includes("<Redacted>"));
  assert.ok(!serialized("^nothing-matches$").includes("<Redacted>"));
  // A pattern RE2 cannot compile (the config rejects it first): libddwaf keeps its own default
  // rather than redacting nothing, so obfuscation never silently turns off.
  assert.ok(serialized("pass(").includes("<Redacted>"));
});

test("replaceRules swaps the rules; an open context keeps the old ones", (t) => {
  const engine = createWafEngine({ rulesPath: fixture("test-rules.json"), log: silentLogger });
  t.after(() => engine.dispose());
  const before = engine.createContext();
  const replacement = JSON.parse(readFileSync(fixture("one-bad-rule.json"), "utf8"));
  const result = engine.replaceRules(replacement);
  assert.ok(result.ok);
  assert.equal(result.value.rulesVersion, "0.0.2-test");
  assert.equal(engine.rulesVersion, "0.0.2-test");
  assert.deepEqual(engine.failedRules, ["tst-bad-001"]);

  const ua = { [ADDRESSES.REQUEST_HEADERS_NO_COOKIES]: { "user-agent": ["Arachni/v1"] } };
  assert.deepEqual(ruleIds(before.run(ua, 100_000).events), ["tst-ua-arachni"]);
  assert.equal(before.rulesVersion, "0.0.1-test");
  before.dispose();
  before.dispose();
  assert.equal(before.run(ua, 100_000).errorCode, -100);

  const after = engine.createContext();
  assert.deepEqual(after.run(ua, 100_000).events, []);
  const good = { [ADDRESSES.REQUEST_QUERY]: { q: ["good"] } };
  assert.deepEqual(ruleIds(after.run(good, 100_000).events), ["tst-good-001"]);
  after.dispose();
});

test("replaceRules with an invalid ruleset is a value and keeps the current rules", (t) => {
  const engine = createWafEngine({ rulesPath: fixture("test-rules.json"), log: silentLogger });
  t.after(() => engine.dispose());
  const result = engine.replaceRules({ version: "2.2", rules: [] });
  assert.equal(result.ok, false);
  assert.equal(result.ok ? undefined : result.error.code, "no-rules");
  assert.equal(engine.rulesVersion, "0.0.1-test");
  const context = engine.createContext();
  const run = context.run({ [ADDRESSES.REQUEST_METHOD]: "POST" }, 100_000);
  assert.deepEqual(ruleIds(run.events), ["001"]);
  context.dispose();
});

test("after dispose: contexts are born disposed and replaceRules fails", () => {
  const engine = createWafEngine({ rulesPath: fixture("test-rules.json"), log: silentLogger });
  const open = engine.createContext();
  engine.dispose();
  engine.dispose();
  assert.deepEqual(ruleIds(open.run({ [ADDRESSES.REQUEST_METHOD]: "POST" }, 100_000).events), [
    "001",
  ]);
  open.dispose();
  const late = engine.createContext();
  assert.equal(late.run({ [ADDRESSES.REQUEST_METHOD]: "POST" }, 100_000).errorCode, -100);
  late.dispose();
  const replaced = engine.replaceRules({});
  assert.equal(replaced.ok ? undefined : replaced.error.code, "engine-disposed");
});

test("open contexts are counted until disposed (disposing twice counts once)", (t) => {
  const engine = createWafEngine({ log: silentLogger });
  t.after(() => engine.dispose());
  const a = engine.createContext();
  const b = engine.createContext();
  assert.equal(engine.openContexts, 2);
  a.dispose();
  a.dispose();
  assert.equal(engine.openContexts, 1);
  b.dispose();
  assert.equal(engine.openContexts, 0);
});
