/**
 * The ext_proc stream loop: the only code that iterates the bidirectional stream. It checks each
 * message against the state machine, hands it to the stream's session, and writes the reply.
 *
 * Closing rules (envoy-ext-proc-contract.md §6): after an ImmediateResponse, and once nothing is
 * left to inspect, the stream ends cleanly (gRPC OK) so Envoy goes on without us; a protocol
 * violation ends the stream with a {@link ProtocolError}, which the transport maps to
 * INVALID_ARGUMENT. In observability mode Envoy ignores replies, so none are written.
 */
import { ProtocolError } from "../errors.ts";
import type {
  ProcessingRequest,
  ProcessingResponse,
} from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { responseFor } from "./responses.ts";
import type {
  SessionFactory,
  SessionResult,
  StreamInfo,
  StreamOutcome,
  StreamSession,
} from "./session.ts";
import { INITIAL_STATE, type StreamEvent, type StreamState, transition } from "./stream-state.ts";

/** What the transport tells the loop about the call. */
export interface StreamContext {
  /** Aborted when Envoy cancels the call, the deadline passes or the connection drops. */
  readonly signal: AbortSignal;
  /** A gRPC request metadata value (lower-case key), if present. */
  readonly metadata: (key: string) => string | undefined;
}

/** Processes one ext_proc stream: yields one reply per message, then ends. */
export async function* processStream(
  requests: AsyncIterable<ProcessingRequest>,
  context: StreamContext,
  createSession: SessionFactory,
): AsyncGenerator<ProcessingResponse> {
  let state: StreamState = INITIAL_STATE;
  let session: StreamSession | undefined;
  let outcome: StreamOutcome = "complete";
  try {
    for await (const message of requests) {
      const event = eventOf(message);
      const next = transition(state, event);
      if (!next.ok) throw new ProtocolError(next.code, describe(next.code, event));
      state = next.state;
      session ??= createSession(streamInfo(message, context));
      const result = dispatch(session, message);
      const verdict = result instanceof Promise ? await result : result;
      if (verdict instanceof ProtocolError) throw verdict;
      if (!message.observabilityMode) yield responseFor(event.kind, verdict);
      if (verdict.kind === "immediate") {
        outcome = "blocked";
        return;
      }
      if (state.phase === "finished" || verdict.close) return;
    }
    // Envoy ended the call (half-close or reset) before the exchange finished: the downstream
    // went away or another filter answered. Connect ends the request iterable in both cases.
    if (state.phase !== "start") outcome = "cancelled";
  } catch (error) {
    outcome = context.signal.aborted ? "cancelled" : "error";
    throw error;
  } finally {
    if (context.signal.aborted && outcome === "complete") outcome = "cancelled";
    session?.end(outcome);
  }
}

/** Calls the session method for the message's kind. */
function dispatch(session: StreamSession, message: ProcessingRequest): SessionResult {
  const request = message.request;
  switch (request.case) {
    case "requestHeaders":
      return session.onRequestHeaders(request.value);
    case "requestBody":
      return session.onRequestBody(request.value);
    case "requestTrailers":
      return session.onRequestTrailers(request.value);
    case "responseHeaders":
      return session.onResponseHeaders(request.value);
    case "responseBody":
      return session.onResponseBody(request.value);
    case "responseTrailers":
      return session.onResponseTrailers(request.value);
    case undefined:
      return new ProtocolError("missing-request", "ProcessingRequest has no request set");
    default: {
      const unknownCase: never = request;
      return unknownCase;
    }
  }
}

/** The state-machine event of a message; a message without a kind is rejected first. */
function eventOf(message: ProcessingRequest): StreamEvent {
  const request = message.request;
  switch (request.case) {
    case "requestHeaders":
      return { kind: "request-headers", endOfStream: request.value.endOfStream };
    case "requestBody":
      return { kind: "request-body", endOfStream: request.value.endOfStream };
    case "requestTrailers":
      return { kind: "request-trailers" };
    case "responseHeaders":
      return { kind: "response-headers", endOfStream: request.value.endOfStream };
    case "responseBody":
      return { kind: "response-body", endOfStream: request.value.endOfStream };
    case "responseTrailers":
      return { kind: "response-trailers" };
    case undefined:
      throw new ProtocolError(
        "missing-request",
        "ProcessingRequest has no request set (empty oneof)",
      );
    default: {
      const unknownCase: never = request;
      return unknownCase;
    }
  }
}

function describe(code: string, event: StreamEvent): string {
  return `unexpected ${event.kind} message (${code})`;
}

function streamInfo(message: ProcessingRequest, context: StreamContext): StreamInfo {
  const istio = context.metadata("x-datadog-istio-integration");
  return {
    integration: istio !== undefined && istio !== "" ? "istio" : "envoy",
    attributes: flattenAttributes(message.attributes),
    observabilityMode: message.observabilityMode,
  };
}

/** Envoy keys attributes by filter name; merge them into one flat map (`source.address` → value). */
function flattenAttributes(attributes: ProcessingRequest["attributes"]): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const perFilter of Object.values(attributes)) {
    Object.assign(flat, perFilter);
  }
  return flat;
}
