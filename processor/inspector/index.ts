/**
 * The inspector: a proxy-neutral core that inspects HTTP exchanges with the WAF and answers each
 * message with a verdict. It never sees a proxy's wire types; `extproc/` adapts Envoy to it.
 */
export type { BodyBudget } from "./body-budget.ts";
export { createBodyBudget } from "./body-budget.ts";
export { createWafInspector, PASS_THROUGH_INSPECTOR } from "./inspector.ts";
export type { InspectorOptions } from "./options.ts";
export type {
  BodyChunk,
  ExchangeInfo,
  HeadersMessage,
  Inspection,
  InspectionResult,
  Inspector,
  Outcome,
} from "./types.ts";
export type {
  BodyMode,
  ContinueVerdict,
  HeaderPair,
  ImmediateVerdict,
  Verdict,
} from "./verdict.ts";
export { CONTINUE } from "./verdict.ts";
