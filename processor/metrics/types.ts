/**
 * What the serving code records, as a narrow interface with no Prometheus in it: the stream loop,
 * the transport and the WAF pipeline call these methods; `registry.ts` turns the counts into
 * Prometheus metrics when scraped. Every method is a few integer additions (one histogram bucket
 * for a WAF run), so the hot path allocates nothing for metrics.
 */

/** How a stream ended, as counted: `passed` means the exchange went through uninterrupted. */
export type StreamResult = "passed" | "blocked" | "redirected" | "error" | "cancelled";

/** Every {@link StreamResult}, in exposition order. */
export const STREAM_RESULTS: readonly StreamResult[] = Object.freeze([
  "passed",
  "blocked",
  "redirected",
  "error",
  "cancelled",
]);

/** Why a new stream was refused (load shedding, `server/admission.ts`). */
export type RefusalReason = "queue-delay" | "open-streams";

/** Every {@link RefusalReason}, in exposition order. */
export const REFUSAL_REASONS: readonly RefusalReason[] = Object.freeze([
  "queue-delay",
  "open-streams",
]);

/** Which body. */
export type BodyDirection = "request" | "response";

/** Outcome of one remote-configuration apply. */
export type RemoteConfigResult = "applied" | "rejected";

/** Recorded by the stream loop and the gRPC transport. */
export interface StreamMetrics {
  streamOpened(): void;
  /** Called once per opened stream. */
  streamClosed(result: StreamResult): void;
  /** A new stream was refused before any message was read (load shedding). */
  streamRefused(reason: RefusalReason): void;
  /** A stream ended because Envoy broke the protocol (`ProtocolErrorCode` or a transport code). */
  protocolError(code: string): void;
}

/** Recorded by the inspector (`inspector/exchange-waf.ts`, `inspector/inspection.ts`). */
export interface InspectionMetrics {
  /** One WAF run: libddwaf's duration, whether the budget ran out, whether it failed. */
  wafRun(durationUs: number, timedOut: boolean, failed: boolean): void;
  /** One event of rule `ruleId` (ids beyond a cap are counted as `other`). */
  ruleMatched(ruleId: string): void;
  /** A body reached the WAF; `truncated` when cut at the body limit or the memory budget. */
  bodyInspected(direction: BodyDirection, truncated: boolean): void;
}

/** Everything a serving process records. */
export interface Metrics extends StreamMetrics, InspectionMetrics {
  /** One remote-configuration apply of `product` (e.g. `ASM_DD`). */
  remoteConfigApplied(product: string, result: RemoteConfigResult): void;
}

const nothing = (): void => {};

/** Records nothing: tests, benchmarks and processes that serve no streams. */
export const NO_METRICS: Metrics = Object.freeze({
  streamOpened: nothing,
  streamClosed: nothing,
  streamRefused: nothing,
  protocolError: nothing,
  wafRun: nothing,
  ruleMatched: nothing,
  bodyInspected: nothing,
  remoteConfigApplied: nothing,
});

/**
 * Whether a process inspects, for the health check and the `aap_extproc_waf_*` gauges: a pod
 * that passes everything uninspected must say so, not just answer "ok".
 */
export interface InspectionStatus {
  /** DD_APPSEC_ENABLED. */
  readonly appsecEnabled: boolean;
  /** The WAF is loaded with at least one rule and streams get a context of it. */
  readonly wafReady: boolean;
  readonly wafVersion: string | undefined;
  /** `metadata.rules_version` of the current ruleset. */
  readonly rulesVersion: string | undefined;
  readonly loadedRules: number;
  readonly failedRules: number;
  /** Bodies are inspected (DD_APPSEC_BODY_PARSING_SIZE_LIMIT > 0). */
  readonly bodyInspection: boolean;
  /** Attacks are blocked (not observability mode). */
  readonly blocking: boolean;
}

/** The status of a process that runs no WAF (DD_APPSEC_ENABLED=false, or not loaded yet). */
export function notInspecting(appsecEnabled: boolean): InspectionStatus {
  return {
    appsecEnabled,
    wafReady: false,
    wafVersion: undefined,
    rulesVersion: undefined,
    loadedRules: 0,
    failedRules: 0,
    bodyInspection: false,
    blocking: false,
  };
}
