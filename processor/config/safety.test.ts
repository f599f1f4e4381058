/** "Never fail open silently": settings that would switch inspection off are rejected or loud. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadConfig } from "./config.ts";
import { parseRegExp } from "./parse.ts";
import { SETTINGS } from "./settings.ts";

function errorsOf(env: Record<string, string>) {
  const result = loadConfig(env);
  assert.ok(!result.ok, `expected the config to be rejected: ${JSON.stringify(env)}`);
  return result.error;
}

function warningsOf(env: Record<string, string>) {
  const result = loadConfig(env);
  assert.ok(result.ok, `expected a valid config, got ${JSON.stringify(result)}`);
  return result.value.warnings;
}

describe("settings that would switch inspection off", () => {
  test("DD_APPSEC_WAF_TIMEOUT=0 (any spelling) is rejected: no WAF run could finish", () => {
    for (const value of ["0", "0ms", "0s", "0.5", "500ns"]) {
      const [error] = errorsOf({ DD_APPSEC_WAF_TIMEOUT: value });
      assert.equal(error?.name, "DD_APPSEC_WAF_TIMEOUT", value);
      assert.match(error?.expected ?? "", /at least 1us/);
    }
  });

  test("a WAF timeout under 1ms is accepted but warned about; the default is not", () => {
    assert.ok(
      warningsOf({ DD_APPSEC_WAF_TIMEOUT: "50" }).some((w) => /WAF_TIMEOUT is 50 µs/.test(w)),
    );
    assert.deepEqual(warningsOf({ DD_APPSEC_WAF_TIMEOUT: "1ms" }), []);
    assert.deepEqual(warningsOf({}), []);
  });

  test("a body memory budget smaller than the body limit is rejected", () => {
    const [error] = errorsOf({
      DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "2000000",
      DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT: "1000000",
    });
    assert.equal(error?.name, "DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT");
    assert.equal(error?.value, "1000000");
    assert.match(error?.expected ?? "", /at least DD_APPSEC_BODY_PARSING_SIZE_LIMIT \(2000000\)/);
    // The default budget against a larger body limit, too.
    assert.equal(
      errorsOf({ DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "200000000" })[0]?.value,
      "134217728",
    );
    // Equal is fine; with bodies off the budget does not matter.
    warningsOf({
      DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "1000",
      DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT: "1000",
    });
    warningsOf({
      DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "0",
      DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT: "1",
    });
  });

  test("documented ways of inspecting less are accepted and warned about at startup", () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ DD_APPSEC_ENABLED: "false" }, /App and API Protection is DISABLED/],
      [{ DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "0" }, /body inspection is OFF/],
      [{ DD_APPSEC_TRACE_RATE_LIMIT: "0" }, /no trace with a security event is kept/],
      [{ DD_SERVICE_EXTENSION_OBSERVABILITY_MODE: "true" }, /never blocked/],
    ];
    for (const [env, warning] of cases) {
      const warnings = warningsOf(env);
      assert.equal(warnings.length, 1, JSON.stringify({ env, warnings }));
      assert.match(warnings[0] ?? "", warning);
    }
  });

  test("with AppSec off only that is reported (the rest inspects nothing anyway)", () => {
    const warnings = warningsOf({
      DD_APPSEC_ENABLED: "0",
      DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "0",
      DD_APPSEC_TRACE_RATE_LIMIT: "0",
    });
    assert.equal(warnings.length, 1);
  });

  test("obfuscator regexes use RE2 syntax: dd-trace's defaults are accepted", () => {
    const ok = [
      "(?i)pass|pw(?:or)?d|secret",
      "(?i)(?P<name>token)",
      "(?is)bearer\\s+([a-z0-9._-]+)",
      "^x-api-key$",
    ];
    for (const pattern of ok) assert.ok(parseRegExp(pattern).ok, pattern);
    const result = loadConfig({ DD_APPSEC_OBFUSCATION_PARAMETER_KEY_REGEXP: "(?i)pass|token" });
    assert.ok(result.ok);
    assert.equal(result.value.config.obfuscatorKeyRegex, "(?i)pass|token");
  });

  test("obfuscator regexes RE2 cannot compile are rejected", () => {
    for (const pattern of ["pass(", "(?=token)", "(?<!x)y", "(a)\\1", "[z-a]"]) {
      assert.equal(parseRegExp(pattern).ok, false, pattern);
    }
    const [error] = errorsOf({ DD_APPSEC_OBFUSCATION_PARAMETER_VALUE_REGEXP: "token(" });
    assert.match(error?.expected ?? "", /RE2/);
  });

  test("each setting that can inspect less documents what happens", () => {
    const description = (name: string) =>
      SETTINGS.find((setting) => setting.name === name)?.description ?? "";
    assert.match(description("DD_APPSEC_WAF_TIMEOUT"), /0 is rejected/);
    assert.match(description("DD_APPSEC_ENABLED"), /warning at every start/);
    assert.match(description("DD_APPSEC_BODY_PARSING_SIZE_LIMIT"), /warning/);
    assert.match(description("DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT"), /startup fails/);
    assert.match(description("DD_APPSEC_TRACE_RATE_LIMIT"), /warning/);
    assert.match(description("DD_APPSEC_RULES"), /stops startup/);
  });
});
