/**
 * One ext_proc stream driven the way Envoy's filter drives it for one HTTP exchange, with the
 * chart's filter config (headers sent both ways, bodies NONE, `allow_mode_override`):
 *
 *   request_headers → reply; request body only when the reply's mode_override asks for it (STREAMED:
 *   one chunk per message, each answered before the next; BUFFERED / BUFFERED_PARTIAL: one message)
 *   → response_headers → reply; response body only when asked → half-close, wait for gRPC OK.
 *
 * An immediate_response ends the exchange (blocked). A server that ends the stream with gRPC OK
 * after a reply is accepted (the Go processor ends after the response headers): Envoy then goes on
 * without it. A reply of the wrong kind, a non-OK status, a reset or a timeout is an error.
 */

import type { OutgoingHttpHeaders } from "node:http";
import { type ClientHttp2Session, type ClientHttp2Stream, constants } from "node:http2";
import type { BodyFrames, Plan } from "./scenarios.ts";
import {
  BodyMode,
  FrameReader,
  HEADER_SKIP,
  hasOverride,
  type MessageSink,
  type Peek,
  peekReply,
  Reply,
  replyOf,
  requestBodyModeOf,
  responseBodyModeOf,
  responseHeaderModeOf,
} from "./wire.ts";

/** What the stream reports to, and takes its settings from. */
export interface StreamHost {
  readonly plan: Plan;
  /** The gRPC request headers (path, content-type, te, Envoy's integration metadata). */
  readonly requestHeaders: OutgoingHttpHeaders;
  /** Fully decodes a reply while the verification budget lasts; returns a mismatch. */
  verify(bytes: Buffer, peek: Peek): string | undefined;
  messageLatency(ms: number): void;
  /** Idle streams only: the request headers were answered. */
  idleAnswered(stream: ExchangeStream): void;
  done(stream: ExchangeStream): void;
}

/** How a stream ended. */
export type Outcome = "pending" | "ok" | "blocked" | "error";

const REPLY_NAMES = [
  "none",
  "request_headers",
  "response_headers",
  "request_body",
  "response_body",
  "request_trailers",
  "response_trailers",
  "immediate_response",
];

const CLOSING = -1;

/** RESOURCE_EXHAUSTED and UNAVAILABLE: what a server that sheds load answers. */
const SHED_STATUSES = new Set(["8", "14"]);

/** One exchange in flight. */
export class ExchangeStream implements MessageSink {
  /** When the exchange started, or was scheduled to (open loop), in `performance.now()` ms. */
  readonly startedAt: number;
  /** Idle streams stop after the request headers' reply, holding the stream open. */
  readonly idle: boolean;
  outcome: Outcome = "pending";
  reason = "";
  /** The server ended the stream (gRPC OK) before the exchange was over. */
  endedEarly = false;
  /**
   * The server refused the stream before answering anything, with RESOURCE_EXHAUSTED or
   * UNAVAILABLE: load shedding. Envoy applies its failure mode at once; also an error.
   */
  shed = false;
  replies = 0;
  /** Closed loop: the slot that starts the next stream when this one ends. */
  slot = 0;
  readonly #host: StreamHost;
  readonly #stream: ClientHttp2Stream;
  readonly #reader = new FrameReader();
  /** The reply awaited (`Reply`), CLOSING once the exchange is over, 0 between messages. */
  #expect: number = Reply.requestHeaders;
  #chunks: readonly Buffer[] = [];
  #nextChunk = 0;
  #requestBodyMode: number = BodyMode.NONE;
  #responseBodyMode: number = BodyMode.NONE;
  #skipResponseHeaders = false;
  #sentAt = 0;
  #grpcStatus: string | undefined;
  #grpcMessage = "";

  constructor(host: StreamHost, session: ClientHttp2Session, startedAt: number, idle = false) {
    this.#host = host;
    this.startedAt = startedAt;
    this.idle = idle;
    const stream = session.request(host.requestHeaders, { endStream: false });
    this.#stream = stream;
    stream.on("response", (headers) => this.#status(headers));
    stream.on("data", (chunk: Buffer) => this.#data(chunk));
    stream.on("trailers", (trailers) => this.#status(trailers));
    stream.on("error", () => {}); // "close" follows with the reset code
    stream.on("close", () => this.#closed());
    this.#send(host.plan.requestHeaders, Reply.requestHeaders);
  }

  /** Ends the exchange as an error now (timeouts). */
  fail(reason: string): void {
    if (this.outcome === "error") return;
    this.outcome = "error";
    this.reason = reason;
    this.#expect = CLOSING;
    if (!this.#stream.closed) this.#stream.close(constants.NGHTTP2_CANCEL);
  }

  /** Resets the stream as Envoy does when the downstream goes away (idle streams). */
  cancel(): void {
    if (!this.#stream.closed) this.#stream.close(constants.NGHTTP2_CANCEL);
  }

  /** One whole gRPC message from the server. */
  onMessage(bytes: Buffer): void {
    const problem = this.#reply(bytes);
    if (problem !== undefined) this.fail(problem);
  }

  /** Handles a reply; returns what is wrong with it, if anything. */
  #reply(bytes: Buffer): string | undefined {
    let peek: Peek;
    try {
      peek = peekReply(bytes);
    } catch (error) {
      return `undecodable reply: ${String(error)}`;
    }
    const mismatch = this.#host.verify(bytes, peek);
    if (mismatch !== undefined) return `peek differs from full decode: ${mismatch}`;
    const reply = replyOf(peek);
    const expected = this.#expect;
    if (expected <= 0) return `${REPLY_NAMES[reply]} reply with no message outstanding`;
    this.replies++;
    this.#host.messageLatency(performance.now() - this.#sentAt);
    if (reply === Reply.immediateResponse) {
      this.outcome = "blocked";
      this.#finish();
      return undefined;
    }
    if (reply !== expected) return `${REPLY_NAMES[reply]} reply to ${REPLY_NAMES[expected]}`;
    this.#expect = 0;
    if (expected === Reply.requestHeaders || expected === Reply.responseHeaders) {
      if (hasOverride(peek)) this.#override(peek);
    }
    this.#advance(expected);
    return undefined;
  }

  /** Sends what follows the answered message `answered`. */
  #advance(answered: number): void {
    const plan = this.#host.plan;
    if (answered === Reply.requestHeaders && this.idle) {
      this.#host.idleAnswered(this);
    } else if (answered === Reply.requestHeaders) {
      if (!this.#body(plan.requestBody, this.#requestBodyMode, Reply.requestBody)) {
        this.#responseHeaders();
      }
    } else if (answered === Reply.requestBody) {
      if (!this.#chunk(Reply.requestBody)) this.#responseHeaders();
    } else if (answered === Reply.responseHeaders) {
      if (!this.#body(plan.responseBody, this.#responseBodyMode, Reply.responseBody)) {
        this.#finish();
      }
    } else if (!this.#chunk(Reply.responseBody)) this.#finish();
  }

  /** Envoy applies an override to every mode, not only the fields the server set. */
  #override(peek: Peek): void {
    this.#requestBodyMode = requestBodyModeOf(peek);
    this.#responseBodyMode = responseBodyModeOf(peek);
    this.#skipResponseHeaders = responseHeaderModeOf(peek) === HEADER_SKIP;
  }

  /** Response headers, unless the mode skips them (then straight to the response body). */
  #responseHeaders(): void {
    const plan = this.#host.plan;
    if (!this.#skipResponseHeaders) this.#send(plan.responseHeaders, Reply.responseHeaders);
    else if (!this.#body(plan.responseBody, this.#responseBodyMode, Reply.responseBody)) {
      this.#finish();
    }
  }

  /** Starts sending a body in `mode`; false when there is none to send. */
  #body(body: BodyFrames | undefined, mode: number, kind: number): boolean {
    if (body === undefined || mode === BodyMode.NONE) return false;
    const whole = mode === BodyMode.BUFFERED || mode === BodyMode.BUFFERED_PARTIAL;
    this.#chunks = whole ? [body.whole] : body.streamed;
    this.#nextChunk = 0;
    return this.#chunk(kind);
  }

  /** Sends the next chunk of the current body; false when it was all sent. */
  #chunk(kind: number): boolean {
    const chunk = this.#chunks[this.#nextChunk++];
    if (chunk === undefined) return false;
    this.#send(chunk, kind);
    return true;
  }

  #send(frame: Buffer, expect: number): void {
    this.#expect = expect;
    this.#sentAt = performance.now();
    this.#stream.write(frame);
  }

  #finish(): void {
    this.#expect = CLOSING;
    this.#endOurSide();
  }

  #endOurSide(): void {
    const stream = this.#stream;
    if (!stream.writableEnded && !stream.destroyed) stream.end();
  }

  #data(chunk: Buffer): void {
    try {
      this.#reader.push(chunk, this);
    } catch (error) {
      this.fail(String(error));
    }
  }

  /** Trailers, or a trailers-only response: the server is done, so is the exchange. */
  #status(headers: Record<string, unknown>): void {
    const status = headers["grpc-status"];
    if (status === undefined) return;
    this.#grpcStatus = String(status);
    this.#grpcMessage = String(headers["grpc-message"] ?? "");
    this.#endOurSide();
  }

  /** Settles the outcome. After an immediate_response Envoy no longer looks at the status. */
  #closed(): void {
    if (this.outcome === "pending" || this.outcome === "ok") {
      if (this.#grpcStatus !== "0") {
        this.outcome = "error";
        this.shed = this.replies === 0 && SHED_STATUSES.has(this.#grpcStatus ?? "");
        this.reason =
          this.#grpcStatus === undefined
            ? `stream reset (code ${this.#stream.rstCode ?? "?"}) without a gRPC status`
            : `gRPC status ${this.#grpcStatus} ${decodeURIComponent(this.#grpcMessage)}`.trim();
      } else if (this.outcome === "pending") {
        if (this.#expect !== CLOSING) this.endedEarly = true;
        this.outcome = this.replies > 0 ? "ok" : "error";
        if (this.replies === 0) this.reason = "stream ended with no reply";
      }
    }
    this.#host.done(this);
  }
}
