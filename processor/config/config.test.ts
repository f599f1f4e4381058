import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatConfigError, loadConfig } from "./config.ts";
import { parseBool, parseDurationUs, parseInteger, parseIp } from "./parse.ts";
import { type FieldsWithoutRow, SETTINGS } from "./settings.ts";

function configOf(env: Record<string, string>) {
  const result = loadConfig(env);
  assert.ok(result.ok, `expected valid config, got ${JSON.stringify(result)}`);
  return result.value;
}

describe("loadConfig", () => {
  test("defaults match the Go image", () => {
    const { config, warnings } = configOf({});
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.port, 443);
    assert.equal(config.healthPort, 80);
    assert.equal(config.tls, true);
    assert.equal(config.tlsCertFile, "localhost.crt");
    assert.equal(config.tlsKeyFile, "localhost.key");
    assert.equal(config.bodyLimitBytes, 10_485_760);
    assert.equal(config.wafTimeoutUs, 10_000);
    assert.equal(config.observabilityMode, false);
    assert.equal(config.service, "serviceextensions");
    assert.equal(config.apmTracingEnabled, false);
    assert.equal(config.drainTimeoutMs, 25_000);
    assert.equal(config.streamIdleTimeoutMs, 360_000);
    assert.equal(config.shedQueueDelayMs, 50);
    assert.equal(config.maxOpenStreams, 50_000);
    assert.equal(config.udsPath, undefined);
    assert.deepEqual(warnings, []);
  });

  test("Remote Configuration: on, every 5 s, by default; decimals and durations accepted", () => {
    assert.equal(configOf({}).config.remoteConfigEnabled, true);
    assert.equal(configOf({}).config.remoteConfigPollIntervalMs, 5000);
    const set = configOf({
      DD_REMOTE_CONFIGURATION_ENABLED: "false",
      DD_REMOTE_CONFIG_POLL_INTERVAL_SECONDS: "0.5",
    }).config;
    assert.equal(set.remoteConfigEnabled, false);
    assert.equal(set.remoteConfigPollIntervalMs, 500);
    const duration = configOf({ DD_REMOTE_CONFIG_POLL_INTERVAL_SECONDS: "1m" }).config;
    assert.equal(duration.remoteConfigPollIntervalMs, 60_000);
    for (const bad of ["0", "-1", "soon", "2h"]) {
      const result = loadConfig({ DD_REMOTE_CONFIG_POLL_INTERVAL_SECONDS: bad });
      assert.ok(!result.ok, bad);
    }
  });

  test("the config is frozen", () => {
    const { config } = configOf({});
    assert.ok(Object.isFrozen(config));
  });

  test("empty values take the default, as in the Go image", () => {
    const { config } = configOf({ DD_SERVICE_EXTENSION_PORT: "", DD_SERVICE: "" });
    assert.equal(config.port, 443);
    assert.equal(config.service, "serviceextensions");
  });

  test("reads every kind of value", () => {
    const { config } = configOf({
      DD_SERVICE_EXTENSION_HOST: "::",
      DD_SERVICE_EXTENSION_PORT: "8443",
      DD_SERVICE_EXTENSION_TLS: "False",
      DD_SERVICE_EXTENSION_OBSERVABILITY_MODE: "1",
      DD_SERVICE_EXTENSION_DRAIN_TIMEOUT: "5s",
      DD_SERVICE_EXTENSION_LOG_LEVEL: "DEBUG",
      DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "0",
      DD_APPSEC_WAF_TIMEOUT: "2500",
      DD_SERVICE_EXTENSION_UDS_PATH: "/tmp/x.sock",
      DD_SERVICE_EXTENSION_STREAM_IDLE_TIMEOUT: "1m30s",
      DD_SERVICE_EXTENSION_SHED_QUEUE_DELAY: "0",
      DD_SERVICE_EXTENSION_MAX_OPEN_STREAMS: "0",
    });
    assert.equal(config.streamIdleTimeoutMs, 90_000);
    assert.equal(config.shedQueueDelayMs, 0);
    assert.equal(config.maxOpenStreams, 0);
    assert.equal(config.host, "::");
    assert.equal(config.port, 8443);
    assert.equal(config.tls, false);
    assert.equal(config.observabilityMode, true);
    assert.equal(config.drainTimeoutMs, 5000);
    assert.equal(config.logLevel, "debug");
    assert.equal(config.bodyLimitBytes, 0);
    assert.equal(config.wafTimeoutUs, 2500);
    assert.equal(config.udsPath, "/tmp/x.sock");
  });

  test("reports every invalid variable with its value and what was expected", () => {
    const result = loadConfig({
      DD_SERVICE_EXTENSION_PORT: "70000",
      DD_SERVICE_EXTENSION_TLS: "yes",
      DD_APPSEC_WAF_TIMEOUT: "10 parsecs",
      DD_SERVICE_EXTENSION_HOST: "localhost",
    });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.error.map((error) => error.name).sort(), [
      "DD_APPSEC_WAF_TIMEOUT",
      "DD_SERVICE_EXTENSION_HOST",
      "DD_SERVICE_EXTENSION_PORT",
      "DD_SERVICE_EXTENSION_TLS",
    ]);
    const port = result.error.find((error) => error.name === "DD_SERVICE_EXTENSION_PORT");
    assert.ok(port);
    assert.equal(
      formatConfigError(port),
      'invalid DD_SERVICE_EXTENSION_PORT="70000": expected an integer from 0 to 65535',
    );
  });

  test("warns about unknown DD_SERVICE_EXTENSION_ variables (typo guard)", () => {
    const { warnings } = configOf({ DD_SERVICE_EXTENSION_POTR: "1", DD_OTHER: "x" });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /DD_SERVICE_EXTENSION_POTR/);
  });

  test("every setting's default parses back from its README text", () => {
    for (const setting of SETTINGS) {
      if (setting.default === undefined) continue;
      const parsed = setting.parse(setting.defaultText);
      assert.ok(parsed.ok, setting.name);
      assert.deepEqual(parsed.value, setting.default, setting.name);
    }
  });

  test("names are unique", () => {
    const names = SETTINGS.map((setting) => setting.name);
    assert.equal(new Set(names).size, names.length);
  });
});

describe("parsers", () => {
  const bools: Array<[string, boolean | undefined]> = [
    ["1", true],
    ["t", true],
    ["TRUE", true],
    ["True", true],
    ["0", false],
    ["F", false],
    ["false", false],
    ["yes", undefined],
    ["tRUE", undefined],
    [" true", undefined],
  ];
  for (const [raw, want] of bools) {
    test(`parseBool(${JSON.stringify(raw)})`, () => {
      const parsed = parseBool(raw);
      assert.equal(parsed.ok ? parsed.value : undefined, want);
    });
  }

  const durations: Array<[string, "us" | "s", number | undefined]> = [
    ["10ms", "us", 10_000],
    ["1.5s", "us", 1_500_000],
    ["1m30s", "s", 90_000_000],
    ["500us", "us", 500],
    ["500µs", "us", 500],
    ["2500", "us", 2500],
    ["25", "s", 25_000_000],
    ["", "us", undefined],
    ["10", "us", 10],
    ["ms", "us", undefined],
    ["10ms5", "us", undefined],
    ["-1s", "us", undefined],
  ];
  for (const [raw, bare, want] of durations) {
    test(`parseDurationUs(${JSON.stringify(raw)}, ${bare})`, () => {
      const parsed = parseDurationUs(raw, bare);
      assert.equal(parsed.ok ? parsed.value : undefined, want);
    });
  }

  const integers: Array<[string, number | undefined]> = [
    ["0", 0],
    ["65535", 65535],
    ["65536", undefined],
    ["-1", undefined],
    ["1e3", undefined],
    ["12abc", undefined],
    ["99999999999999999999", undefined],
  ];
  for (const [raw, want] of integers) {
    test(`parseInteger(${JSON.stringify(raw)}, 0, 65535)`, () => {
      const parsed = parseInteger(raw, 0, 65535);
      assert.equal(parsed.ok ? parsed.value : undefined, want);
    });
  }

  for (const [raw, ok] of [
    ["0.0.0.0", true],
    ["127.0.0.1", true],
    ["::", true],
    ["::1", true],
    ["256.0.0.1", false],
    ["example.com", false],
  ] as const) {
    test(`parseIp(${raw})`, () => assert.equal(parseIp(raw).ok, ok));
  }
});

test("every Config field has a settings row (checked at compile time, and here)", () => {
  // Fails to type-check when FieldsWithoutRow is not `never`.
  const complete: [FieldsWithoutRow] extends [never] ? true : false = true;
  assert.equal(complete, true);
  const { config } = configOf({});
  assert.deepEqual(Object.keys(config).sort(), SETTINGS.map((setting) => setting.field).sort());
});
