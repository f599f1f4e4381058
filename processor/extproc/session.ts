/**
 * The analysis behind one stream, seen from the stream loop: one method per message kind, each
 * returning a {@link Verdict}, and `end` to release what the stream held. The stream loop
 * (`process-stream.ts`) owns ordering and the wire; a session owns inspection.
 */
import type { ProtocolError } from "../errors.ts";
import type {
  HttpBody,
  HttpHeaders,
  HttpTrailers,
} from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { CONTINUE, type Verdict } from "./verdict.ts";

/**
 * How a stream ended, for the span and the logs: `complete` once the exchange was fully seen (or we
 * had nothing left to inspect), `blocked` after an ImmediateResponse, `cancelled` when Envoy ended
 * the call before that, `error` on a protocol violation.
 */
export type StreamOutcome = "complete" | "blocked" | "cancelled" | "error";

/** What the stream loop knows about a stream when it opens. */
export interface StreamInfo {
  /** Integration named by the gRPC metadata (`envoy` or `istio`), `envoy` by default. */
  readonly integration: "envoy" | "istio";
  /** Attributes Envoy attached to the first message of a direction (e.g. `source.address`). */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Envoy runs this stream in observability mode: replies are ignored, so never block. */
  readonly observabilityMode: boolean;
}

/** A session's answer: synchronous when no body parsing was needed (the common case). */
export type SessionResult = Verdict | ProtocolError | Promise<Verdict | ProtocolError>;

/** Per-stream analysis. Methods never throw; a protocol problem comes back as a value. */
export interface StreamSession {
  onRequestHeaders(headers: HttpHeaders): SessionResult;
  onRequestBody(body: HttpBody): SessionResult;
  onRequestTrailers(trailers: HttpTrailers): SessionResult;
  onResponseHeaders(headers: HttpHeaders): SessionResult;
  onResponseBody(body: HttpBody): SessionResult;
  onResponseTrailers(trailers: HttpTrailers): SessionResult;
  /** Called exactly once, however the stream ends. */
  end(outcome: StreamOutcome): void;
}

/** Creates the session of a new stream. */
export type SessionFactory = (info: StreamInfo) => StreamSession;

/**
 * A session that inspects nothing: every message gets CONTINUE, and the stream closes after the
 * response headers since nothing more will be asked for. Used when App and API Protection is
 * turned off (DD_APPSEC_ENABLED=false) and as the baseline in benchmarks.
 */
export const passThroughSession: SessionFactory = () => ({
  onRequestHeaders: () => CONTINUE,
  onRequestBody: () => CONTINUE,
  onRequestTrailers: () => CONTINUE,
  onResponseHeaders: () => ({ kind: "continue", close: true }),
  onResponseBody: () => CONTINUE,
  onResponseTrailers: () => CONTINUE,
  end: () => {},
});
