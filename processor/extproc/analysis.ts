/**
 * The per-stream analysis state shared by the phase handlers, and the one place that runs the WAF
 * and turns its actions into verdicts. Phases (`request-headers.ts`, `body.ts`,
 * `response-headers.ts`, `trailers.ts`) fill the request/response model and call {@link runWaf}.
 */
import type { Config } from "../config/index.ts";
import type { HttpRequest, HttpResponse } from "../http/index.ts";
import type { Logger } from "../log.ts";
import type { InspectionMetrics } from "../metrics/index.ts";
import type { StreamSpan, StreamTracer } from "../tracing/index.ts";
import {
  type BlockTemplates,
  blockResponseFor,
  type WafAction,
  type WafContext,
  type WafEngine,
} from "../waf/index.ts";
import type { BodyBudget } from "./body-budget.ts";
import type { BodyState } from "./body-state.ts";
import type { StreamInfo } from "./session.ts";
import type { ImmediateVerdict } from "./verdict.ts";

/** What the WAF pipeline needs, fixed at startup. */
export interface AnalysisDeps {
  readonly config: Config;
  readonly engine: WafEngine;
  readonly templates: BlockTemplates;
  readonly log: Logger;
  /** One span per stream, started at the request headers. */
  readonly tracer: StreamTracer;
  /** Process-wide bound on buffered body bytes. */
  readonly bodyBudget: BodyBudget;
  /** WAF runs, rule matches and bodies are counted here. */
  readonly metrics?: InspectionMetrics | undefined;
}

/** Everything one stream has learnt so far. Mutable, owned by the stream's session. */
export interface Analysis {
  readonly info: StreamInfo;
  readonly deps: AnalysisDeps;
  readonly waf: WafContext;
  /** Never block: observability mode (the processor's setting or Envoy's flag on the stream). */
  readonly observing: boolean;
  request?: HttpRequest;
  response?: HttpResponse;
  /** The stream's span, once the request headers were understood. */
  span?: StreamSpan;
  /** API Security: extract schemas in the run that analyses the response body. */
  extractSchemaWithResponseBody?: boolean;
  requestBody?: BodyState;
  responseBody?: BodyState;
  /** Ids of the rules that matched, in order of first match. */
  readonly ruleIds: Set<string>;
  /** The action we answered with (an ImmediateResponse was sent). */
  blockedBy?: WafAction;
  /** In observability mode: the first action we would have taken. */
  wouldHaveBlocked?: WafAction;
  /** Why a body was not analysed (unsupported encoding, ...), for the logs and the span. */
  readonly bodyNotes: string[];
}

/** Creates the analysis of a new stream with its own WAF context. */
export function createAnalysis(info: StreamInfo, deps: AnalysisDeps): Analysis {
  return {
    info,
    deps,
    waf: deps.engine.createContext(),
    observing: deps.config.observabilityMode || info.observabilityMode,
    ruleIds: new Set(),
    bodyNotes: [],
  };
}

/**
 * Runs the WAF on `addresses` within the stream's remaining budget. Returns the ImmediateResponse
 * verdict when an action applies and blocking is allowed; `undefined` to continue. A failed or
 * timed-out run continues (fail-open inside the processor, recorded on the span); Envoy's
 * `failure_mode_allow` only governs failures of the stream itself.
 */
export function runWaf(
  analysis: Analysis,
  addresses: Record<string, unknown>,
): ImmediateVerdict | undefined {
  const result = analysis.waf.run(addresses, analysis.deps.config.wafTimeoutUs);
  const metrics = analysis.deps.metrics;
  const failed = result.errorCode !== undefined;
  // A run with no address this ruleset reads never reaches libddwaf: not counted.
  if (result.durationUs > 0 || result.timedOut || failed) {
    metrics?.wafRun(result.durationUs, result.timedOut, failed);
  }
  for (const id of ruleIdsOf(result.events)) {
    analysis.ruleIds.add(id);
    metrics?.ruleMatched(id);
  }
  analysis.span?.noteWaf(result);
  const action = result.actions[0];
  if (!action) return undefined;
  if (analysis.observing) {
    analysis.wouldHaveBlocked ??= action;
    return undefined;
  }
  analysis.blockedBy = action;
  return verdictFromAction(action, analysis);
}

/** The block page or redirect for `action`, negotiated with the request's Accept header. */
function verdictFromAction(action: WafAction, analysis: Analysis): ImmediateVerdict {
  const accept = analysis.request?.headers.accept?.join(",");
  const page = blockResponseFor(action, accept, analysis.deps.templates);
  return {
    kind: "immediate",
    status: page.status,
    headers: page.headers,
    body: page.body,
    details: action.kind === "redirect" ? "aap_redirected" : "aap_blocked",
  };
}

/** Rule ids of libddwaf events (`[{ rule: { id } }]`); tolerant of unexpected shapes. */
export function ruleIdsOf(events: readonly unknown[]): string[] {
  const ids: string[] = [];
  for (const event of events) {
    const rule = (event as { rule?: { id?: unknown } } | null)?.rule;
    if (typeof rule?.id === "string") ids.push(rule.id);
  }
  return ids;
}
