/**
 * The ext_proc stream loop: the only code that sees a stream's messages in order. It checks each
 * message against the state machine, hands it to the exchange's {@link Inspection} in the
 * inspector's neutral shapes (`messages.ts`), and sends the reply through the transport's
 * {@link StreamPort}.
 *
 * The loop is push-driven (the transport calls {@link ExtProcStream.receive} per message) rather
 * than an async iterator: most messages are answered synchronously, and an async iterator costs a
 * promise, a closure and a microtask per message on the hottest path. When the inspection answers with a
 * promise (body parsing), `receive` returns it and the transport stops reading until it settles, so
 * messages are still handled one at a time.
 *
 * Closing rules (docs/ext-proc-contract.md): after an ImmediateResponse, and once nothing is left to
 * inspect, the stream ends cleanly (gRPC OK) so Envoy goes on without us; a protocol violation ends
 * the stream with a {@link ProtocolError}, which the transport maps to INVALID_ARGUMENT. In
 * observability mode Envoy ignores replies, so none are written.
 */
import { ProtocolError } from "../errors.ts";
import type { ProcessingRequest } from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import type {
  Inspection,
  InspectionResult,
  Inspector,
  Outcome,
  Verdict,
} from "../inspector/index.ts";
import { NO_METRICS, type StreamMetrics, type StreamResult } from "../metrics/index.ts";
import { bodyChunk, type CallInfo, exchangeInfo, headersMessage } from "./messages.ts";
import { encodedResponseFor } from "./responses.ts";
import { INITIAL_STATE, type StreamEvent, type StreamState, transition } from "./stream-state.ts";

/**
 * How the loop answers, implemented by the transport. After `finish` or `fail` nothing more is
 * sent, and the transport reports no more events to the stream.
 */
export interface StreamPort {
  /** Sends one reply: a ProcessingResponse encoded by `responses.ts`. */
  send(reply: Uint8Array): void;
  /** Ends the call with gRPC OK. */
  finish(): void;
  /** Ends the call with an error: a {@link ProtocolError}, or anything unexpected. */
  fail(error: unknown): void;
}

/** One open ext_proc stream, fed by the transport. */
export interface ExtProcStream {
  /**
   * Handles one message. Returns a promise when the reply waits on asynchronous work; the
   * transport must not call `receive` again before it settles. Never rejects.
   */
  receive(message: ProcessingRequest): void | Promise<void>;
  /** Envoy half-closed its side: no more messages will come. */
  halfClose(): void;
  /**
   * The call ended without us: cancelled, its deadline passed, its connection was lost
   * (`cancelled`), or the transport could not read a message (`error`).
   */
  cancel(outcome?: "cancelled" | "error"): void;
}

/** Opens the loop of one stream; the inspection is opened with the first message. */
export function openStream(
  call: CallInfo,
  inspector: Inspector,
  port: StreamPort,
  metrics: StreamMetrics = NO_METRICS,
): ExtProcStream {
  return new StreamLoop(call, inspector, port, metrics);
}

class StreamLoop implements ExtProcStream {
  #state: StreamState = INITIAL_STATE;
  #inspection: Inspection | undefined;
  #done = false;
  readonly #call: CallInfo;
  readonly #inspector: Inspector;
  readonly #port: StreamPort;
  readonly #metrics: StreamMetrics;

  constructor(call: CallInfo, inspector: Inspector, port: StreamPort, metrics: StreamMetrics) {
    this.#call = call;
    this.#inspector = inspector;
    this.#port = port;
    this.#metrics = metrics;
    metrics.streamOpened();
  }

  receive(message: ProcessingRequest): void | Promise<void> {
    if (this.#done) return;
    let result: InspectionResult;
    let event: StreamEvent;
    try {
      event = eventOf(message);
      const next = transition(this.#state, event);
      if (!next.ok) throw new ProtocolError(next.error, describe(next.error, event));
      this.#state = next.value;
      this.#inspection ??= this.#inspector.open(exchangeInfo(message, this.#call));
      result = dispatch(this.#inspection, message);
    } catch (error) {
      this.#failWith(error);
      return;
    }
    if (result instanceof Promise) {
      return result.then(
        (verdict) => this.#reply(message, event, verdict),
        (error: unknown) => this.#failWith(error),
      );
    }
    this.#reply(message, event, result);
  }

  halfClose(): void {
    if (this.#done) return;
    // Envoy ended the call before the exchange finished (the downstream went away or another
    // filter answered): end cleanly, nothing is left to answer.
    this.#end(this.#state.phase === "start" ? "complete" : "cancelled");
    this.#port.finish();
  }

  cancel(outcome: "cancelled" | "error" = "cancelled"): void {
    if (this.#done) return;
    this.#end(outcome);
  }

  #reply(message: ProcessingRequest, event: StreamEvent, verdict: Verdict | ProtocolError): void {
    if (this.#done) return; // cancelled while the inspection was working
    if (verdict instanceof ProtocolError) {
      this.#failWith(verdict);
      return;
    }
    if (!message.observabilityMode) this.#port.send(encodedResponseFor(event.kind, verdict));
    if (verdict.kind === "immediate") {
      this.#end("blocked", verdict.details === "aap_redirected" ? "redirected" : "blocked");
      this.#port.finish();
    } else if (this.#state.phase === "finished" || verdict.close === true) {
      this.#end("complete");
      this.#port.finish();
    }
  }

  #failWith(error: unknown): void {
    if (this.#done) return;
    this.#end("error");
    this.#port.fail(error);
  }

  /** Ends the inspection exactly once, however the stream ends, and counts the stream. */
  #end(outcome: Outcome, result: StreamResult = RESULT_OF[outcome]): void {
    this.#done = true;
    this.#metrics.streamClosed(result);
    this.#inspection?.end(outcome);
  }
}

/** How an outcome is counted (a block is told apart from a redirect by its verdict). */
const RESULT_OF: Readonly<Record<Outcome, StreamResult>> = {
  complete: "passed",
  blocked: "blocked",
  cancelled: "cancelled",
  error: "error",
};

/** Calls the inspection for the message's kind (the kind was checked by {@link eventOf}). */
function dispatch(inspection: Inspection, message: ProcessingRequest): InspectionResult {
  const request = message.request;
  switch (request.case) {
    case "requestHeaders":
      return inspection.requestHeaders(headersMessage(request.value));
    case "requestBody":
      return inspection.requestBody(bodyChunk(request.value));
    case "requestTrailers":
      return inspection.requestTrailers();
    case "responseHeaders":
      return inspection.responseHeaders(headersMessage(request.value));
    case "responseBody":
      return inspection.responseBody(bodyChunk(request.value));
    case "responseTrailers":
      return inspection.responseTrailers();
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
