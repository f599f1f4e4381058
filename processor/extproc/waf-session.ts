/**
 * The session that inspects a stream with the WAF: wires the phase handlers to the stream loop
 * and releases the WAF context, exactly once, however the stream ends.
 */
import { type Analysis, type AnalysisDeps, createAnalysis } from "./analysis.ts";
import { handleBody, releaseBody } from "./body.ts";
import { handleRequestHeaders } from "./request-headers.ts";
import { handleResponseHeaders } from "./response-headers.ts";
import type { SessionFactory, StreamOutcome } from "./session.ts";
import { handleTrailers } from "./trailers.ts";

/** Creates the factory of WAF-inspecting sessions. */
export function createWafSessionFactory(deps: AnalysisDeps): SessionFactory {
  return (info) => {
    const analysis = createAnalysis(info, deps);
    let ended = false;
    return {
      onRequestHeaders: (message) => handleRequestHeaders(message, analysis),
      onRequestBody: (chunk) => handleBody("request", chunk, analysis),
      onRequestTrailers: () => handleTrailers("request", analysis),
      onResponseHeaders: (message) => handleResponseHeaders(message, analysis),
      onResponseBody: (chunk) => handleBody("response", chunk, analysis),
      onResponseTrailers: () => handleTrailers("response", analysis),
      end(outcome) {
        if (ended) return;
        ended = true;
        analysis.waf.dispose();
        releaseBody(analysis.requestBody, analysis);
        releaseBody(analysis.responseBody, analysis);
        logStreamEnd(analysis, outcome);
        finishSpan(analysis, outcome);
      },
    };
  };
}

/** One debug line per stream: verdict and rule ids only (never header values or bodies). */
function logStreamEnd(analysis: Analysis, outcome: StreamOutcome): void {
  if (!analysis.deps.log.enabled("debug")) return;
  analysis.deps.log.debug("stream end", {
    outcome,
    rules: [...analysis.ruleIds],
    blocked: analysis.blockedBy !== undefined,
    status: analysis.blockedBy?.status ?? analysis.response?.status,
    wouldHaveBlocked: analysis.wouldHaveBlocked !== undefined,
    observing: analysis.observing,
    wafTimeouts: analysis.waf.timeouts,
    wafDurationUs: analysis.waf.durationUs,
    ...(analysis.bodyNotes.length > 0 ? { bodyNotes: analysis.bodyNotes } : {}),
  });
}

/** Finishes the stream's span (streams whose request headers were invalid have none). */
function finishSpan(analysis: Analysis, outcome: StreamOutcome): void {
  analysis.span?.finish({
    outcome,
    ...(analysis.response ? { response: analysis.response } : {}),
    ...(analysis.blockedBy ? { blockedBy: analysis.blockedBy } : {}),
    ...(analysis.wouldHaveBlocked ? { wouldHaveBlocked: analysis.wouldHaveBlocked } : {}),
    observabilityMode: analysis.observing,
    wafVersion: analysis.deps.engine.wafVersion,
    rulesVersion: analysis.waf.rulesVersion,
    wafTimeouts: analysis.waf.timeouts,
    wafDurationUs: analysis.waf.durationUs,
  });
}
