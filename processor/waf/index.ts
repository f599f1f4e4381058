/**
 * The WAF layer: libddwaf (through `@datadog/native-appsec`) behind a neutral surface. Other
 * folders import only from here; nothing here knows about Envoy or the tracer.
 */

export type { BlockType, WafAction } from "./actions.ts";
export type { WafAddress } from "./addresses.ts";
export { ADDRESSES, EXTRACT_SCHEMA } from "./addresses.ts";
export type { BlockResponse, BlockTemplates, BlockTemplatesOptions } from "./block-page.ts";
export { blockResponseFor, loadBlockTemplates } from "./block-page.ts";
export type { WafContext, WafRunOptions, WafRunResult } from "./context.ts";
export { WAF_ERROR_CODES } from "./context.ts";
export type { WafEngine, WafEngineOptions, WafLoadResult } from "./engine.ts";
export { createWafEngine } from "./engine.ts";
export type { WafLoadErrorCode } from "./errors.ts";
export { isWafLoadError, WafLoadError } from "./errors.ts";
export type { RulesInfo } from "./handle.ts";
export { DEFAULT_OBFUSCATOR_KEY_REGEX, DEFAULT_OBFUSCATOR_VALUE_REGEX } from "./obfuscation.ts";
export { compactValues } from "./values.ts";
