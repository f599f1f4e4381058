import assert from "node:assert/strict";
import { test } from "node:test";
import { testConfig } from "../test/support/config.ts";
import { agentUrl, inspectorOptions, remoteConfigOptions, tracerOptions } from "./wiring.ts";

test("the inspector reads its settings with their units", () => {
  const config = testConfig({
    DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "2048",
    DD_APPSEC_WAF_TIMEOUT: "5ms",
    DD_SERVICE_EXTENSION_OBSERVABILITY_MODE: "true",
    DD_TRACE_CLIENT_IP_HEADER: "x-real-ip",
  });
  assert.deepEqual(inspectorOptions(config), {
    bodyLimitBytes: 2048,
    responseBodyMode: "streamed",
    wafBudgetUs: 5000,
    observabilityMode: true,
    apiSecurityEnabled: true,
    clientIpHeader: "x-real-ip",
  });
});

test("the tracer's Agent URL: DD_TRACE_AGENT_URL wins, IPv6 hosts are bracketed", () => {
  assert.equal(agentUrl(testConfig()), "http://localhost:8126");
  assert.equal(
    agentUrl(testConfig({ DD_AGENT_HOST: "::1", DD_TRACE_AGENT_PORT: "9126" })),
    "http://[::1]:9126",
  );
  const url = "http://agent.datadog:8126";
  assert.equal(
    tracerOptions(testConfig({ DD_TRACE_AGENT_URL: url, DD_AGENT_HOST: "x" })).agentUrl,
    url,
  );
  assert.equal(
    tracerOptions(testConfig({ DD_APPSEC_TRACE_RATE_LIMIT: "7" })).traceRateLimitPerS,
    7,
  );
});

test("Remote Configuration: blocking and ASM_DD follow observability mode and DD_APPSEC_RULES", () => {
  const defaults = remoteConfigOptions(testConfig());
  assert.equal(defaults.enabled, true);
  assert.equal(defaults.pollIntervalMs, 5000);
  assert.equal(defaults.blocking, true);
  assert.equal(defaults.rulesPinned, false);
  const pinned = remoteConfigOptions(
    testConfig({ DD_APPSEC_RULES: "/rules.json", DD_SERVICE_EXTENSION_OBSERVABILITY_MODE: "true" }),
  );
  assert.equal(pinned.blocking, false);
  assert.equal(pinned.rulesPinned, true);
});
