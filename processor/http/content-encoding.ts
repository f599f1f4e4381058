/**
 * Bounded undoing of content codings: the declared ones (`Content-Encoding: gzip, br`, on one line
 * or several), and the ones the bytes show when the declaration disagrees with them.
 */

import type { Transform } from "node:stream";
import {
  constants,
  createBrotliDecompress,
  createGunzip,
  createInflate,
  createInflateRaw,
  createZstdDecompress,
} from "node:zlib";
import { type Err, err, ok, type Result } from "../result.ts";
import { createBodyBuffer } from "./body-buffer.ts";
import { isWideText } from "./charset.ts";
import { compressionOf, isKnownBinary, looksBinary } from "./sniff.ts";

/** Decoded bytes; `notes` says which codings were guessed or ignored. */
export interface Decoded {
  readonly bytes: Uint8Array;
  /** The output was cut at the limit, or the input was cut. */
  readonly truncated: boolean;
  readonly notes: string[];
}

/** Why bytes could not be decoded. */
export type DecodeFailure = "unsupported-encoding" | "decompression-failed";

type Coding = "gzip" | "deflate" | "br" | "zstd";

const CODINGS: Record<string, Coding> = {
  gzip: "gzip",
  "x-gzip": "gzip",
  deflate: "deflate",
  br: "br",
  zstd: "zstd",
};

/** At most this many stacked encodings (`gzip, br`), declared and sniffed together, are undone. */
const MAX_LAYERS = 3;

/** Leading bytes checked for binary content before a brotli guess (see {@link needsDecoding}). */
const QUICK_SNIFF_BYTES = 64;

/**
 * True when {@link decodeContent} has work to do: a coding is declared, the bytes start with a
 * compression signature, or they start with bytes text never has (brotli has no signature).
 * Constant cost: a clean text body is recognised from its first bytes.
 */
export function needsDecoding(bytes: Uint8Array, contentEncoding: string | undefined): boolean {
  if (codingsOf(contentEncoding).length > 0 || compressionOf(bytes) !== undefined) return true;
  return mayBeBrotli(bytes);
}

/** Text in any encoding, as far as the first bytes tell. */
function isText(bytes: Uint8Array): boolean {
  return !looksBinary(bytes) || isWideText(bytes);
}

/** Brotli has no signature: bytes that are neither text nor a known binary format may be it. */
function mayBeBrotli(bytes: Uint8Array): boolean {
  return looksBinary(bytes, QUICK_SNIFF_BYTES) && !isKnownBinary(bytes) && !isWideText(bytes);
}

/**
 * Undoes the content codings listed in `contentEncoding` (last applied first), then any coding the
 * bytes still show (a gzip, zlib or zstd signature, or binary bytes that decode as brotli): a
 * backend that sniffs, or an upstream that decompresses, reads the decoded payload even when it was
 * declared `identity` or not at all. A declared coding that the bytes do not carry (plain text
 * sent as `gzip`, an unknown coding) leaves the bytes as they are, since a backend that ignores the
 * header reads them so; binary bytes under an unknown coding stay unsupported.
 *
 * At most `limitBytes` bytes of output are kept: the decoder is stopped as soon as the limit is
 * passed, so a decompression bomb costs about `limitBytes` bytes of work and memory, and the output
 * is then `truncated`. A cut input (a body truncated at the limit) is decoded as far as it goes.
 *
 * Asynchronous on purpose: Node's synchronous zlib calls can bound their output
 * (`maxOutputLength`) but then throw and discard everything, so a body padded past the limit
 * after its payload would never be inspected.
 */
export async function decodeContent(
  bytes: Uint8Array,
  contentEncoding: string | undefined,
  limitBytes: number,
): Promise<Result<Decoded, DecodeFailure>> {
  const declared = codingsOf(contentEncoding);
  const known = declared.map((c) => (Object.hasOwn(CODINGS, c) ? CODINGS[c] : undefined));
  const usable = declared.length <= MAX_LAYERS && known.every((c) => c !== undefined);
  if (!usable) {
    if (!isText(bytes)) return err("unsupported-encoding");
    return ok({ bytes, truncated: false, notes: ["coding-ignored"] });
  }
  let current: Decoded = { bytes, truncated: false, notes: [] };
  for (const coding of (known as Coding[]).reverse()) {
    const next = await inflateBounded(current.bytes, coding, limitBytes);
    if (!next.ok) return ignoredLayer(current, next);
    current = {
      bytes: next.value.bytes,
      truncated: next.value.truncated || current.truncated,
      notes: current.notes,
    };
  }
  return ok(await undoSniffedLayers(current, limitBytes, declared.length));
}

/** A declared layer the bytes do not carry: text is read as it is, binary stays undecodable. */
function ignoredLayer(
  current: Decoded,
  failure: Err<DecodeFailure>,
): Result<Decoded, DecodeFailure> {
  if (!isText(current.bytes)) return failure;
  return ok({ ...current, notes: [...current.notes, "coding-ignored"] });
}

/** Undoes the codings the bytes show, up to {@link MAX_LAYERS} layers in all. */
async function undoSniffedLayers(
  start: Decoded,
  limitBytes: number,
  layers: number,
): Promise<Decoded> {
  let current = start;
  for (let layer = layers; layer < MAX_LAYERS; layer++) {
    const coding = sniffedCoding(current.bytes);
    if (coding === undefined) break;
    const next = await inflateBounded(current.bytes, coding, limitBytes);
    // Brotli is only a guess: keep its output only when that output is text.
    if (!next.ok || (coding === "br" && !isText(next.value.bytes))) break;
    current = {
      bytes: next.value.bytes,
      truncated: next.value.truncated || current.truncated,
      notes: [...current.notes, `coding-sniffed:${coding}`],
    };
  }
  return current;
}

function sniffedCoding(bytes: Uint8Array): Coding | undefined {
  const magic = compressionOf(bytes);
  if (magic !== undefined) return magic;
  return mayBeBrotli(bytes) ? "br" : undefined;
}

/** The codings of a Content-Encoding value, lower-cased, without `identity`. */
export function codingsOf(contentEncoding: string | undefined): string[] {
  if (contentEncoding === undefined || contentEncoding === "") return [];
  return contentEncoding
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
}

function inflateBounded(
  bytes: Uint8Array,
  coding: Coding,
  limitBytes: number,
): Promise<Result<Decoded, DecodeFailure>> {
  const out = createBodyBuffer(limitBytes);
  const stream = decoderFor(coding, bytes);
  return new Promise((resolve) => {
    const finish = (result: Result<Decoded, DecodeFailure>): void => {
      stream.destroy();
      resolve(result);
    };
    stream.on("data", (chunk: Buffer) => {
      out.append(chunk);
      if (out.truncated) finish(ok({ bytes: out.bytes(), truncated: true, notes: [] }));
    });
    // Corrupt data after a readable prefix still yields that prefix for the WAF; nothing at all
    // from a non-empty input is a failure, so the caller can read the bytes as they are.
    const done = (truncated: boolean) =>
      finish(
        out.sizeBytes > 0
          ? ok({ bytes: out.bytes(), truncated, notes: [] })
          : err("decompression-failed"),
      );
    stream.on("end", () => done(false));
    stream.on("error", () => done(true));
    stream.end(bytes);
  });
}

// Z_SYNC_FLUSH at the end of input makes a cut stream yield what it has instead of failing.
const ZLIB_OPTIONS = { finishFlush: constants.Z_SYNC_FLUSH };

function decoderFor(coding: Coding, bytes: Uint8Array): Transform {
  switch (coding) {
    case "br":
      return createBrotliDecompress({ finishFlush: constants.BROTLI_OPERATION_FLUSH });
    case "zstd":
      return createZstdDecompress({ finishFlush: constants.ZSTD_e_flush });
    case "deflate":
      // Some servers send raw deflate under "deflate"; a zlib header is recognisable (RFC 1950).
      return hasZlibHeader(bytes) ? createInflate(ZLIB_OPTIONS) : createInflateRaw(ZLIB_OPTIONS);
    case "gzip":
      return createGunzip(ZLIB_OPTIONS);
  }
}

function hasZlibHeader(bytes: Uint8Array): boolean {
  const cmf = bytes[0];
  const flg = bytes[1];
  if (cmf === undefined || flg === undefined) return false;
  return (cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0;
}
