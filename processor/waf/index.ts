/**
 * The WAF layer: libddwaf (through `@datadog/native-appsec`) behind a neutral surface. Other
 * folders import only from here; nothing here knows about Envoy or the tracer.
 */

export type { WafAction } from "./actions.ts";
export { ADDRESSES, EXTRACT_SCHEMA } from "./addresses.ts";
export type { BlockTemplates } from "./block-page.ts";
export { blockResponseFor, loadBlockTemplates } from "./block-page.ts";
export type { WafConfigUpdate, WafUpdateOutcome } from "./config-set.ts";
export type { WafContext, WafRunResult } from "./context.ts";
export type { WafEngine } from "./engine.ts";
export { createWafEngine } from "./engine.ts";
export { isWafLoadError } from "./errors.ts";
export { compactValues } from "./values.ts";
