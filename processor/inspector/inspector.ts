/** The two inspectors: the WAF one, and one that lets everything through. */
import { WafInspection } from "./inspection.ts";
import type { InspectorDeps, InspectorOptions } from "./options.ts";
import type { Inspection, Inspector } from "./types.ts";
import { CONTINUE, type ContinueVerdict } from "./verdict.ts";

/** Continue, and nothing more will be asked for: the adapter may end the stream after this reply. */
const CLOSE: ContinueVerdict = Object.freeze({ kind: "continue", close: true });

/** Inspects every exchange with the WAF. */
export function createWafInspector(options: InspectorOptions, deps: InspectorDeps): Inspector {
  return { open: (info) => new WafInspection(info, options, deps) };
}

const PASS_THROUGH: Inspection = Object.freeze({
  requestHeaders: () => CONTINUE,
  requestBody: () => CONTINUE,
  requestTrailers: () => CONTINUE,
  responseHeaders: () => CLOSE,
  responseBody: () => CONTINUE,
  responseTrailers: () => CONTINUE,
  end: () => {},
});

/**
 * Inspects nothing: every message continues. Used when App and API Protection is turned off
 * (`DD_APPSEC_ENABLED=false`) and as the baseline of benchmarks.
 */
export const PASS_THROUGH_INSPECTOR: Inspector = Object.freeze({ open: () => PASS_THROUGH });
