/**
 * The processor's error types, one per layer. Each has a `code` literal union and an `isX` guard.
 * Expected failures travel as values (`Result`, result.ts); these classes exist for the few places where an error must
 * cross an async boundary (a stream ending early) or stop startup.
 */

/** Ways Envoy (or something pretending to be Envoy) can break the ext_proc protocol. */
export const PROTOCOL_ERROR_CODES = [
  "missing-request",
  "response-before-request",
  "body-before-headers",
  "trailers-before-headers",
  "duplicate-request-headers",
  "duplicate-response-headers",
  "response-body-before-headers",
  "body-after-end",
  "trailers-after-end",
  "message-after-end",
  "invalid-request-headers",
  "invalid-response-headers",
] as const;

/** One of {@link PROTOCOL_ERROR_CODES}. */
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

/** A protocol violation on one stream: that stream ends with gRPC INVALID_ARGUMENT, nothing else. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** True when `value` is a {@link ProtocolError}. */
export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof ProtocolError;
}

/** Why startup failed; `main` exits with code 2 for config errors and 1 for the rest. */
export const STARTUP_ERROR_CODES = ["invalid-config", "tls", "listen", "waf"] as const;

/** One of {@link STARTUP_ERROR_CODES}. */
export type StartupErrorCode = (typeof STARTUP_ERROR_CODES)[number];

/** A failure that stops the processor before it serves. */
export class StartupError extends Error {
  override readonly name = "StartupError";
  readonly code: StartupErrorCode;

  constructor(code: StartupErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `value` is a {@link StartupError}. */
export function isStartupError(value: unknown): value is StartupError {
  return value instanceof StartupError;
}
