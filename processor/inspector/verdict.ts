/**
 * What the inspector decides about one message, independent of any proxy's wire format. The
 * adapter turns a verdict into its proxy's reply (Envoy: `extproc/responses.ts`).
 */

/** A header to set on the request or response that continues (name lower-case, value as sent). */
export type HeaderPair = readonly [name: string, value: string];

/**
 * How a body is asked for. `streamed`: chunk by chunk, each acknowledged at once (the Go
 * processor's mode). `buffered-partial`: Envoy buffers the body up to its buffer limit, holds the
 * headers, and sends one message, so a block on that body still gets a proper block page.
 */
export type BodyMode = "streamed" | "buffered-partial";

/** Let the message through, optionally with header mutations and a request for the body. */
export interface ContinueVerdict {
  readonly kind: "continue";
  /** Headers to set (overwriting) on the request or response going on. */
  readonly setHeaders?: readonly HeaderPair[];
  /** Ask Envoy (through `mode_override`) to send this direction's body, in this mode. */
  readonly bodyMode?: BodyMode;
  /** End the stream cleanly after this reply: Envoy goes on without us (nothing left to inspect). */
  readonly close?: boolean;
}

/** Answer the client ourselves (a block page or a redirect) and end the stream. */
export interface ImmediateVerdict {
  readonly kind: "immediate";
  readonly status: number;
  readonly headers: readonly HeaderPair[];
  readonly body: Uint8Array;
  /** Shown in Envoy's access logs as RESPONSE_CODE_DETAILS. */
  readonly details: string;
}

/** A phase's decision. */
export type Verdict = ContinueVerdict | ImmediateVerdict;

/** Continue with nothing changed. */
export const CONTINUE: ContinueVerdict = Object.freeze({ kind: "continue" });
