/**
 * The one shape of an expected failure travelling as a value: parsers, loaders and appliers
 * return a `Result` instead of throwing, and the caller decides what a failure means (a startup
 * error, a protocol error, a note, an apply state). The payload is always `value`, the failure
 * always `error`, whatever either holds.
 */

/** A success carrying `value`. */
export type Ok<T> = { readonly ok: true; readonly value: T };

/** A failure carrying `error`: a message, a code, or an object with the details. */
export type Err<E> = { readonly ok: false; readonly error: E };

/** Either a success or a failure; narrow on `ok`. */
export type Result<T, E> = Ok<T> | Err<E>;

/** A success. */
export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

/** A failure. */
export function err<E>(error: E): Err<E> {
  return { ok: false, error };
}
