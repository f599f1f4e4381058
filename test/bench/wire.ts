/**
 * gRPC framing and the cheapest possible reading of ext_proc replies, for the load generator.
 *
 * Requests are encoded once per scenario with the generated protobuf-es types and replayed as
 * bytes. Replies are not decoded: the generator only needs which `response` oneof case arrived and
 * the body modes of a `mode_override`, so `peekReply` walks the top-level protobuf fields and skips
 * everything else. `checkPeek` compares that against a full `fromBinary` decode; the generator runs
 * it on the first replies of every run, so a wrong shortcut shows up as errors, not as numbers.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type ProcessingRequest,
  ProcessingRequestSchema,
  ProcessingResponseSchema,
} from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";

/** The gRPC method Envoy calls. */
export const PROCESS_PATH = "/envoy.service.ext_proc.v3.ExternalProcessor/Process";

/** `ProcessingResponse.response` oneof field numbers. */
export const Reply = {
  none: 0,
  requestHeaders: 1,
  responseHeaders: 2,
  requestBody: 3,
  responseBody: 4,
  requestTrailers: 5,
  responseTrailers: 6,
  immediateResponse: 7,
} as const;

/** `ProcessingMode.BodySendMode` values. */
export const BodyMode = { NONE: 0, STREAMED: 1, BUFFERED: 2, BUFFERED_PARTIAL: 3 } as const;
/** `ProcessingMode.HeaderSendMode.SKIP`. */
export const HEADER_SKIP = 2;

const MODE_OVERRIDE_FIELD = 9;
const HAS_OVERRIDE = 1 << 4;

/** A ProcessingRequest as one length-prefixed gRPC message (uncompressed). */
export function grpcFrame(message: ProcessingRequest): Buffer {
  const payload = toBinary(ProcessingRequestSchema, message);
  const frame = Buffer.allocUnsafe(5 + payload.length);
  frame[0] = 0;
  frame.writeUInt32BE(payload.length, 1);
  frame.set(payload, 5);
  return frame;
}

/**
 * A peeked reply packed into one integer so the hot path allocates nothing: bits 0-3 the oneof
 * field number (`Reply`), bit 4 set when `mode_override` is present, then 4 bits each for the
 * request body mode (8-11), the response body mode (12-15) and the response header mode (16-19).
 */
export type Peek = number;

/** The `Reply` case of a peek. */
export const replyOf = (peek: Peek): number => peek & 0xf;
/** Whether the reply carries a `mode_override`. */
export const hasOverride = (peek: Peek): boolean => (peek & HAS_OVERRIDE) !== 0;
/** `mode_override.request_body_mode`. */
export const requestBodyModeOf = (peek: Peek): number => (peek >>> 8) & 0xf;
/** `mode_override.response_body_mode`. */
export const responseBodyModeOf = (peek: Peek): number => (peek >>> 12) & 0xf;
/** `mode_override.response_header_mode`. */
export const responseHeaderModeOf = (peek: Peek): number => (peek >>> 16) & 0xf;

/** Reads the varint at `cursor.at` and moves the cursor past it. */
function varint(bytes: Uint8Array, cursor: { at: number }): number {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[cursor.at++];
    if (byte === undefined) throw new RangeError("truncated varint");
    if (shift < 28) value |= (byte & 0x7f) << shift;
    else value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return value;
    shift += 7;
  }
}

/** Moves `cursor` past a field of `wireType`. */
function skip(bytes: Uint8Array, wireType: number, cursor: { at: number }): void {
  if (wireType === 0) varint(bytes, cursor);
  else if (wireType === 1) cursor.at += 8;
  else if (wireType === 2) {
    const length = varint(bytes, cursor); // read before adding: `at += varint()` loses the advance
    cursor.at += length;
  } else if (wireType === 5) cursor.at += 4;
  else throw new RangeError(`unsupported wire type ${wireType}`);
}

/** The body and header modes of a `ProcessingMode` message, packed as in `Peek`. */
function peekModes(bytes: Uint8Array, cursor: { at: number }, end: number): number {
  let packed = HAS_OVERRIDE;
  while (cursor.at < end) {
    const tag = varint(bytes, cursor);
    const field = tag >>> 3;
    if ((tag & 7) !== 0) {
      skip(bytes, tag & 7, cursor);
      continue;
    }
    const value = varint(bytes, cursor) & 0xf;
    if (field === 3) packed = (packed & ~(0xf << 8)) | (value << 8);
    else if (field === 4) packed = (packed & ~(0xf << 12)) | (value << 12);
    else if (field === 2) packed = (packed & ~(0xf << 16)) | (value << 16);
  }
  return packed;
}

/** Peeks at a serialized ProcessingResponse (see `Peek`). Throws on malformed bytes. */
export function peekReply(bytes: Uint8Array): Peek {
  const cursor = { at: 0 };
  let field = 0;
  let modes = 0;
  while (cursor.at < bytes.length) {
    const tag = varint(bytes, cursor);
    const number = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === 2 && number >= 1 && number <= 7) {
      field = number;
      skip(bytes, wireType, cursor);
    } else if (wireType === 2 && number === MODE_OVERRIDE_FIELD) {
      const length = varint(bytes, cursor);
      const end = cursor.at + length;
      modes = peekModes(bytes, cursor, end);
      cursor.at = end;
    } else skip(bytes, wireType, cursor);
  }
  if (cursor.at > bytes.length) throw new RangeError("truncated field");
  return field | modes;
}

const CASES: Record<string, number> = {
  requestHeaders: Reply.requestHeaders,
  responseHeaders: Reply.responseHeaders,
  requestBody: Reply.requestBody,
  responseBody: Reply.responseBody,
  requestTrailers: Reply.requestTrailers,
  responseTrailers: Reply.responseTrailers,
  immediateResponse: Reply.immediateResponse,
};

/**
 * Decodes `bytes` fully with the generated types and compares with `peek`: returns undefined when
 * they agree, else what differs.
 */
export function checkPeek(bytes: Uint8Array, peek: Peek): string | undefined {
  const full = fromBinary(ProcessingResponseSchema, bytes);
  const expected = CASES[full.response.case ?? ""] ?? Reply.none;
  if (replyOf(peek) !== expected) return `reply case ${replyOf(peek)}, decoded ${expected}`;
  const mode = full.modeOverride;
  if (hasOverride(peek) !== (mode !== undefined)) return "mode_override presence differs";
  if (mode === undefined) return undefined;
  const got = [requestBodyModeOf(peek), responseBodyModeOf(peek), responseHeaderModeOf(peek)];
  const want = [mode.requestBodyMode, mode.responseBodyMode, mode.responseHeaderMode];
  return got.every((value, i) => value === want[i])
    ? undefined
    : `mode_override ${got.join("/")}, decoded ${want.join("/")}`;
}

/** Receives the messages a `FrameReader` splits out. */
export interface MessageSink {
  onMessage(message: Buffer): void;
}

/**
 * Splits the DATA of one gRPC response stream into messages. Most DATA chunks hold exactly one
 * whole message, which is handed over without copying.
 */
export class FrameReader {
  #pending: Buffer | undefined;

  /** Feeds a DATA chunk; hands each whole message to `sink`. Throws on compressed messages. */
  push(chunk: Buffer, sink: MessageSink): void {
    let data = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    while (data.length >= 5) {
      if (data[0] !== 0) throw new RangeError("compressed gRPC message");
      const end = 5 + data.readUInt32BE(1);
      if (data.length < end) break;
      sink.onMessage(data.subarray(5, end));
      data = data.subarray(end);
    }
    if (data.length > 0) this.#pending = Buffer.from(data);
  }
}
