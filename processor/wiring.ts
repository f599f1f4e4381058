/**
 * Each layer's options, built from the configuration in one place: a layer reads only the
 * settings it uses, under names that say their units, and never the whole {@link Config}.
 */
import type { Config } from "./config/index.ts";
import type { InspectorOptions } from "./inspector/index.ts";
import type { RemoteConfigOptions } from "./remote-config/index.ts";
import type { DatadogTracerOptions } from "./tracing/index.ts";

/** The inspector's settings. */
export function inspectorOptions(config: Config): InspectorOptions {
  return {
    bodyLimitBytes: config.bodyLimitBytes,
    responseBodyMode: config.responseBodyMode,
    wafBudgetUs: config.wafTimeoutUs,
    observabilityMode: config.observabilityMode,
    apiSecurityEnabled: config.apiSecurityEnabled,
    clientIpHeader: config.clientIpHeader,
  };
}

/** The tracer's settings. */
export function tracerOptions(config: Config): DatadogTracerOptions {
  return {
    service: config.service,
    env: config.env,
    version: config.version,
    agentUrl: agentUrl(config),
    apmTracingEnabled: config.apmTracingEnabled,
    apiSecurityEnabled: config.apiSecurityEnabled,
    apiSecuritySampleDelayS: config.apiSecuritySampleDelayS,
    traceRateLimitPerS: config.traceRateLimitPerS,
    clientIpHeader: config.clientIpHeader,
  };
}

/** Remote Configuration's settings. */
export function remoteConfigOptions(config: Config): RemoteConfigOptions {
  return {
    enabled: config.remoteConfigEnabled,
    agentUrl: agentUrl(config),
    pollIntervalMs: config.remoteConfigPollIntervalMs,
    blocking: !config.observabilityMode,
    rulesPinned: config.rulesPath !== undefined,
    service: config.service,
    env: config.env,
    version: config.version,
  };
}

/** `DD_TRACE_AGENT_URL`, else `http://DD_AGENT_HOST:DD_TRACE_AGENT_PORT` (IPv6 hosts bracketed). */
export function agentUrl(config: Config): string {
  if (config.agentUrl !== undefined) return config.agentUrl;
  const host = config.agentHost.includes(":") ? `[${config.agentHost}]` : config.agentHost;
  return `http://${host}:${config.agentPort}`;
}
