/**
 * The per-stream state machine of the ext_proc protocol: which message kinds may come next.
 *
 * ```
 *            RH(eos)                     SH(eos) / SB(eos) / ST
 *   start ──────────────► request-done ───────────────────────► finished
 *     │ RH                  ▲  │ SH
 *     ▼        RB(eos)/RT   │  ▼
 *   request ────────────────┘ response ── SB ──► response
 *     │ SH (early response, request body unfinished: late RB/RT still accepted)
 *     └──────────────────────► response
 * ```
 *
 * Envoy sends request headers, body chunks, trailers, then the same for the response; the upstream
 * may answer before the request body is complete (envoyproxy/envoy #17069), so response headers
 * are accepted in `request` and late request chunks are accepted in `response` until the request
 * ends. Anything else is a typed protocol error; the caller ends only that stream.
 */
import type { ProtocolErrorCode } from "../errors.ts";
import { err, ok, type Result } from "../result.ts";

/** Where a stream is. */
export type Phase = "start" | "request" | "request-done" | "response" | "finished";

/** The state kept between messages. */
export interface StreamState {
  readonly phase: Phase;
  /** The request side has ended (end_of_stream on headers or body, or trailers). */
  readonly requestEnded: boolean;
}

/** A message kind with the end_of_stream flag where the kind has one. */
export type StreamEvent =
  | { kind: "request-headers"; endOfStream: boolean }
  | { kind: "request-body"; endOfStream: boolean }
  | { kind: "request-trailers" }
  | { kind: "response-headers"; endOfStream: boolean }
  | { kind: "response-body"; endOfStream: boolean }
  | { kind: "response-trailers" };

/** Outcome of {@link transition}: the next state, or the rule the message breaks. */
type Transition = Result<StreamState, ProtocolErrorCode>;

/** The state of a new stream. */
export const INITIAL_STATE: StreamState = { phase: "start", requestEnded: false };

const fail = (code: ProtocolErrorCode): Transition => err(code);
const to = (phase: Phase, requestEnded: boolean): Transition => ok({ phase, requestEnded });

/** Applies one message to the state, or says which rule it breaks. Pure. */
export function transition(state: StreamState, event: StreamEvent): Transition {
  if (state.phase === "finished") return fail("message-after-end");
  switch (event.kind) {
    case "request-headers":
      if (state.phase !== "start") return fail("duplicate-request-headers");
      return to(event.endOfStream ? "request-done" : "request", event.endOfStream);
    case "request-body":
    case "request-trailers":
      return requestTail(state, event);
    case "response-headers":
      if (state.phase === "start") return fail("response-before-request");
      if (state.phase === "response") return fail("duplicate-response-headers");
      return to(event.endOfStream ? "finished" : "response", state.requestEnded);
    case "response-body":
    case "response-trailers":
      if (state.phase === "start") return fail("response-before-request");
      if (state.phase !== "response") return fail("response-body-before-headers");
      return to(
        event.kind === "response-trailers" || event.endOfStream ? "finished" : "response",
        state.requestEnded,
      );
    default: {
      const unknownEvent: never = event;
      return unknownEvent;
    }
  }
}

function requestTail(
  state: StreamState,
  event: Extract<StreamEvent, { kind: "request-body" | "request-trailers" }>,
): Transition {
  const isBody = event.kind === "request-body";
  if (state.phase === "start")
    return fail(isBody ? "body-before-headers" : "trailers-before-headers");
  if (state.requestEnded) return fail(isBody ? "body-after-end" : "trailers-after-end");
  const ends = !isBody || event.endOfStream;
  if (state.phase === "response") return to("response", ends);
  return to(ends ? "request-done" : "request", ends);
}
