/**
 * Request and response bodies: chunks are acknowledged at once (STREAMED) and accumulated up to
 * the limit; the body is analysed once, at end of stream, at the limit, or at the trailers.
 */
import type { HttpBody } from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { createBodyBuffer, parseBody } from "../http/index.ts";
import { ADDRESSES, EXTRACT_SCHEMA } from "../waf/index.ts";
import { type Analysis, runWaf } from "./analysis.ts";
import { type BodyState, createBodyState, isInspectable } from "./body-state.ts";
import { CONTINUE, type Verdict } from "./verdict.ts";

/** Which body. */
export type Direction = "request" | "response";

/** Handles one `request_body` or `response_body` chunk. */
export function handleBody(
  direction: Direction,
  chunk: HttpBody,
  analysis: Analysis,
): Verdict | Promise<Verdict> {
  const state = bodyStateOf(direction, analysis);
  if (!state || state.analysed) return CONTINUE;
  const granted = reserve(state, chunk.body.length, analysis);
  if (granted === undefined) {
    state.buffer.append(chunk.body);
  } else {
    // The shared budget is spent: keep what fits and analyse now, as a truncated body.
    state.buffer.append(chunk.body.subarray(0, granted));
    analysis.bodyNotes.push(`${direction}:memory-budget`);
    state.cut = true;
    return analyseBody(direction, analysis);
  }
  if (state.singleMessage) return analyseBody(direction, analysis).then(closeAfterContinue);
  if (chunk.endOfStream || state.buffer.truncated) return analyseBody(direction, analysis);
  return CONTINUE;
}

/**
 * Takes from the shared budget the part of a `length`-byte chunk that the body buffer will keep.
 * Returns undefined when all of it was granted, else how many bytes were.
 */
function reserve(state: BodyState, length: number, analysis: Analysis): number | undefined {
  const kept = Math.max(0, Math.min(length, analysis.deps.config.bodyLimit - state.buffer.size));
  const granted = analysis.deps.bodyBudget.reserveUpTo(kept);
  state.reserved += granted;
  return granted === kept ? undefined : granted;
}

/** Gives the body's bytes back to the shared budget and drops them. */
export function releaseBody(state: BodyState | undefined, analysis: Analysis): void {
  if (!state) return;
  analysis.deps.bodyBudget.release(state.reserved);
  state.reserved = 0;
  state.buffer = createBodyBuffer(0);
}

/** After a BUFFERED_PARTIAL body nothing more comes to inspect: end the stream after the reply. */
function closeAfterContinue(verdict: Verdict): Verdict {
  return verdict.kind === "continue" ? { ...verdict, close: true } : verdict;
}

/** A body of `direction` holds bytes that were not analysed yet. */
export function hasPendingBody(direction: Direction, analysis: Analysis): boolean {
  const state = direction === "request" ? analysis.requestBody : analysis.responseBody;
  return state !== undefined && !state.analysed && state.buffer.size > 0;
}

/**
 * Analyses the body of `direction` if it was accumulated and not analysed yet. Called at end of
 * stream, at the trailers (a body followed by trailers never has end_of_stream set: without this,
 * it would never be inspected), and when response headers arrive before the request body ended.
 */
export async function analyseBody(direction: Direction, analysis: Analysis): Promise<Verdict> {
  const state = direction === "request" ? analysis.requestBody : analysis.responseBody;
  if (!state || state.analysed) return CONTINUE;
  state.analysed = true;
  const bytes = state.buffer.bytes();
  const truncated = state.buffer.truncated || state.cut;
  releaseBody(state, analysis);
  if (bytes.length === 0) return CONTINUE;
  const parsed = await parseBody(bytes, {
    ...(state.contentType ? { contentType: state.contentType } : {}),
    ...(state.contentEncoding ? { contentEncoding: state.contentEncoding } : {}),
    truncated,
    limit: analysis.deps.config.bodyLimit,
  });
  if (!parsed.ok) {
    analysis.bodyNotes.push(`${direction}:${parsed.reason}`);
    return CONTINUE;
  }
  analysis.deps.metrics?.bodyInspected(direction, truncated);
  const addresses =
    direction === "request"
      ? {
          [ADDRESSES.REQUEST_BODY]: parsed.value,
          ...(parsed.filenames && parsed.filenames.length > 0
            ? { [ADDRESSES.REQUEST_BODY_FILENAMES]: parsed.filenames }
            : {}),
        }
      : {
          [ADDRESSES.RESPONSE_BODY]: parsed.value,
          ...(analysis.extractSchemaWithResponseBody
            ? { [ADDRESSES.WAF_CONTEXT_PROCESSOR]: EXTRACT_SCHEMA }
            : {}),
        };
  return runWaf(analysis, addresses) ?? CONTINUE;
}

/**
 * The body state of a direction, created on the first chunk when Envoy sends a body we did not
 * ask for (a static body mode in the filter config), if its content type is inspectable. Such a
 * body is taken as streamed: chunks are accumulated until the end of stream.
 */
function bodyStateOf(direction: Direction, analysis: Analysis): BodyState | undefined {
  const limit = analysis.deps.config.bodyLimit;
  if (direction === "request") {
    if (!analysis.requestBody && analysis.request && isInspectable(analysis.request, limit)) {
      analysis.requestBody = createBodyState(analysis.request, limit, "streamed");
    }
    return analysis.requestBody;
  }
  if (!analysis.responseBody && analysis.response && isInspectable(analysis.response, limit)) {
    analysis.responseBody = createBodyState(analysis.response, limit, "streamed");
  }
  return analysis.responseBody;
}
