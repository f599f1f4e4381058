/** Trailers: the end of a body that had no end_of_stream chunk (the trailer bypass). */
import type { Analysis } from "./analysis.ts";
import { analyseBody, type Direction } from "./body.ts";
import type { Verdict } from "./verdict.ts";

/** Handles `request_trailers` or `response_trailers`: analyses the pending body, if any. */
export function handleTrailers(direction: Direction, analysis: Analysis): Promise<Verdict> {
  return analyseBody(direction, analysis);
}
