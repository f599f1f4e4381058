/**
 * The inspector's surface, free of any proxy's wire types: an adapter (Envoy's ext_proc in
 * `extproc/`) turns each proxy message into one of these calls and each {@link Verdict} back into
 * its own reply. One {@link Inspection} per HTTP exchange; it owns everything it learns.
 */
import type { ProtocolError } from "../errors.ts";
import type { HeaderEntry } from "../http/index.ts";
import type { Verdict } from "./verdict.ts";

/**
 * How an exchange ended, for the span and the logs: `complete` once it was fully seen (or nothing
 * was left to inspect), `blocked` after a block page or redirect, `cancelled` when the proxy ended
 * it first, `error` on a protocol violation.
 */
export type Outcome = "complete" | "blocked" | "cancelled" | "error";

/** What the adapter knows about an exchange when it opens. */
export interface ExchangeInfo {
  /** The proxy integration, reported as the span's `component`. */
  readonly integration: "envoy" | "istio";
  /** The downstream peer address (`ip` or `ip:port`) when the proxy gave it. */
  readonly remoteAddress: string | undefined;
  /** The proxy ignores replies for this exchange: never block. */
  readonly observabilityMode: boolean;
}

/** Request or response headers, values decoded to text, in arrival order. */
export interface HeadersMessage {
  readonly headers: readonly HeaderEntry[];
  /** No body follows. */
  readonly endOfStream: boolean;
}

/** One chunk of a request or response body. */
export interface BodyChunk {
  readonly bytes: Uint8Array;
  /** The last chunk (a body followed by trailers never has one). */
  readonly endOfStream: boolean;
}

/** An answer: synchronous unless a body had to be parsed. */
export type InspectionResult = Verdict | ProtocolError | Promise<Verdict | ProtocolError>;

/** The inspection of one exchange. Methods never throw; a protocol problem is a value. */
export interface Inspection {
  requestHeaders(message: HeadersMessage): InspectionResult;
  requestBody(chunk: BodyChunk): InspectionResult;
  requestTrailers(): InspectionResult;
  responseHeaders(message: HeadersMessage): InspectionResult;
  responseBody(chunk: BodyChunk): InspectionResult;
  responseTrailers(): InspectionResult;
  /** Releases what the inspection holds. Called exactly once, however the exchange ends. */
  end(outcome: Outcome): void;
}

/** Opens the inspection of each new exchange. */
export interface Inspector {
  open(info: ExchangeInfo): Inspection;
}
