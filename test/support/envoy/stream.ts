/**
 * One ext_proc gRPC stream as Envoy's filter drives it: one outstanding message at a time, a
 * per-message timer, `override_message_timeout`, and spurious-reply detection. Built on the
 * tests' Connect gRPC client (../grpc-client.ts), independent of the processor's server stack.
 */
import type {
  ProcessingRequest,
  ProcessingResponse,
} from "../../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import {
  type Client,
  type ProcessCall,
  type StatusCode,
  startProcessCall,
} from "../grpc-client.ts";
import { durationMs } from "./settings.ts";

/** What waiting for the reply to a message gives. */
export type Awaited =
  | { kind: "reply"; message: ProcessingResponse }
  /** The server ended the call; `code` 0 (OK) is a clean close. */
  | { kind: "closed"; code: StatusCode; details: string }
  | { kind: "timeout" }
  /** A reply came while no message was outstanding. */
  | { kind: "spurious" };

/** How the call finally ended, and who ended it. */
export interface StreamEnd {
  readonly code: StatusCode;
  readonly details: string;
  /** `server` when the server ended it, `envoy` when the client cancelled it. */
  readonly by: "server" | "envoy";
}

/** The per-message timer settings. */
export interface TimerSettings {
  readonly messageTimeoutMs: number;
  readonly maxMessageTimeoutMs: number | undefined;
}

/** A Process stream with Envoy's bookkeeping. */
export class ProcessorStream {
  /** Every message sent, in order. */
  readonly sent: ProcessingRequest[] = [];
  /** Number of replies read from the server (including ignored ones). */
  repliesReceived = 0;
  /** Resolves when the call is over. */
  readonly ended: Promise<StreamEnd>;

  readonly #call: ProcessCall;
  readonly #timer: TimerSettings;
  #outstanding = false;
  #spurious = false;
  #pending: ProcessingResponse | undefined;
  #end: { code: StatusCode; details: string } | undefined;
  #cancelled = false;
  #halfClosed = false;
  #wake: (() => void) | undefined;
  #extended = false;

  constructor(client: Client, metadata: Readonly<Record<string, string>>, timer: TimerSettings) {
    this.#timer = timer;
    let resolveEnded: (end: StreamEnd) => void = () => {};
    this.ended = new Promise((resolve) => {
      resolveEnded = resolve;
    });
    this.#call = startProcessCall(client, metadata, undefined, {
      onMessage: (message) => this.#onData(message),
      onEnd: (status) => {
        this.#end = { code: status.code, details: status.details };
        resolveEnded({ ...this.#end, by: this.#cancelled ? "envoy" : "server" });
        this.#wake?.();
      },
    });
  }

  #onData(message: ProcessingResponse): void {
    this.repliesReceived++;
    if (!this.#outstanding) {
      this.#spurious = true;
    } else if (message.response.case === undefined && message.overrideMessageTimeout) {
      this.#extendTimer(message);
      return;
    } else {
      this.#outstanding = false;
      this.#pending = message;
    }
    this.#wake?.();
  }

  #extendTimer(message: ProcessingResponse): void {
    // Honoured once per message, and only up to max_message_timeout (docs/envoy-filter.md#replies).
    if (this.#extended || this.#timer.maxMessageTimeoutMs === undefined) return;
    const wanted = durationMs(message.overrideMessageTimeout, 0);
    if (wanted > this.#timer.maxMessageTimeoutMs) return;
    this.#extended = true;
    this.#restartTimer?.(wanted);
  }

  #restartTimer: ((ms: number) => void) | undefined;

  /** Sends without expecting a reply (observability mode). */
  post(message: ProcessingRequest): void {
    this.sent.push(message);
    if (this.#end === undefined && !this.#halfClosed) this.#call.write(message);
  }

  /** True once a reply arrived that no message asked for. */
  get spurious(): boolean {
    return this.#spurious;
  }

  /** True once the server ended the call. */
  get closed(): boolean {
    return this.#end !== undefined;
  }

  /** Sends `message` and waits for its reply within the message timeout. */
  async exchange(message: ProcessingRequest): Promise<Awaited> {
    if (this.#spurious) return { kind: "spurious" };
    if (this.#end !== undefined) return { kind: "closed", ...this.#end };
    this.#outstanding = true;
    this.#extended = false;
    this.post(message);
    return new Promise<Awaited>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (result: Awaited) => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.#restartTimer = undefined;
        resolve(result);
      };
      this.#restartTimer = (ms) => {
        clearTimeout(timer);
        timer = setTimeout(() => finish({ kind: "timeout" }), ms);
      };
      this.#wake = () => {
        if (this.#spurious) return finish({ kind: "spurious" });
        const reply = this.#pending;
        if (reply !== undefined) {
          this.#pending = undefined;
          return finish({ kind: "reply", message: reply });
        }
        if (this.#end !== undefined) return finish({ kind: "closed", ...this.#end });
      };
      this.#restartTimer(this.#timer.messageTimeoutMs);
      this.#wake();
    });
  }

  /** Half-closes Envoy's side, as Envoy does when it is done with the server. */
  halfClose(): void {
    if (this.#halfClosed) return;
    this.#halfClosed = true;
    this.#outstanding = false;
    if (this.#end === undefined) this.#call.end();
  }

  /** Resets the call (RST_STREAM), as Envoy does after a timeout or an error. */
  cancel(): void {
    this.#outstanding = false;
    if (this.#end !== undefined) return;
    this.#cancelled = true;
    this.#call.cancel();
  }

  /**
   * Ends the stream once the exchange is over: half-close, then reset it if the server has not
   * ended its side within `graceMs`. Returns how it ended.
   */
  finish(graceMs: number, halfClose = true): Promise<StreamEnd> {
    if (halfClose) this.halfClose();
    const timer = setTimeout(() => this.cancel(), graceMs);
    timer.unref();
    return this.ended.finally(() => clearTimeout(timer));
  }
}
