/**
 * Each layer's options, built from the configuration in one place: a layer reads only the
 * settings it uses, under names that say their units, and never the whole {@link Config}.
 */
import type { Config } from "./config/index.ts";
import type { InspectorOptions } from "./inspector/index.ts";

/** The inspector's settings. */
export function inspectorOptions(config: Config): InspectorOptions {
  return {
    bodyLimitBytes: config.bodyLimit,
    responseBodyMode: config.responseBodyMode,
    wafBudgetUs: config.wafTimeoutUs,
    observabilityMode: config.observabilityMode,
    apiSecurityEnabled: config.apiSecurityEnabled,
    clientIpHeader: config.clientIpHeader,
  };
}
