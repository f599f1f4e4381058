/** Bounded decompression of `Content-Encoding: gzip | deflate | br` bodies. */

import type { Transform } from "node:stream";
import {
  constants,
  createBrotliDecompress,
  createGunzip,
  createInflate,
  createInflateRaw,
} from "node:zlib";
import { createBodyBuffer } from "./body-buffer.ts";

/** Result of {@link decodeContent}. */
export type DecodeResult =
  | { ok: true; bytes: Uint8Array; truncated: boolean }
  | { ok: false; reason: "unsupported-encoding" | "decompression-failed" };

const SUPPORTED = new Set(["gzip", "x-gzip", "deflate", "br"]);

/** At most this many stacked encodings (`gzip, br`) are undone. */
const MAX_LAYERS = 3;

/**
 * Undoes the content codings listed in `contentEncoding` (last applied first), keeping at most
 * `limit` bytes of output: the decoder is stopped as soon as the limit is passed, so a
 * decompression bomb costs about `limit` bytes of work and memory, and the output is then
 * `truncated`. A cut input (a body truncated at the limit) is decoded as far as it goes.
 *
 * Asynchronous on purpose: Node's synchronous zlib calls can bound their output
 * (`maxOutputLength`) but then throw and discard everything, so a body padded past the limit
 * after its payload would never be inspected.
 */
export async function decodeContent(
  bytes: Uint8Array,
  contentEncoding: string | undefined,
  limit: number,
): Promise<DecodeResult> {
  const layers = codingsOf(contentEncoding);
  if (layers.length > MAX_LAYERS || layers.some((c) => !SUPPORTED.has(c))) {
    return { ok: false, reason: "unsupported-encoding" };
  }
  let current: DecodeResult = { ok: true, bytes, truncated: false };
  for (const coding of layers.reverse()) {
    if (!current.ok) break;
    const next: DecodeResult = await inflateBounded(current.bytes, coding, limit);
    current = next.ok ? { ...next, truncated: next.truncated || current.truncated } : next;
  }
  return current;
}

/** The codings of a Content-Encoding value, lower-cased, without `identity`. */
export function codingsOf(contentEncoding: string | undefined): string[] {
  return (contentEncoding ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
}

function inflateBounded(bytes: Uint8Array, coding: string, limit: number): Promise<DecodeResult> {
  const out = createBodyBuffer(limit);
  const stream = decoderFor(coding, bytes);
  return new Promise((resolve) => {
    const finish = (result: DecodeResult): void => {
      stream.destroy();
      resolve(result);
    };
    stream.on("data", (chunk: Buffer) => {
      out.append(chunk);
      if (out.truncated) finish({ ok: true, bytes: out.bytes(), truncated: true });
    });
    stream.on("end", () => finish({ ok: true, bytes: out.bytes(), truncated: false }));
    // Corrupt data after a readable prefix still yields that prefix for the WAF.
    stream.on("error", () =>
      finish(
        out.size > 0
          ? { ok: true, bytes: out.bytes(), truncated: true }
          : { ok: false, reason: "decompression-failed" },
      ),
    );
    stream.end(bytes);
  });
}

// Z_SYNC_FLUSH at the end of input makes a cut stream yield what it has instead of failing.
const ZLIB_OPTIONS = { finishFlush: constants.Z_SYNC_FLUSH };

function decoderFor(coding: string, bytes: Uint8Array): Transform {
  if (coding === "br") {
    return createBrotliDecompress({ finishFlush: constants.BROTLI_OPERATION_FLUSH });
  }
  if (coding === "deflate") {
    // Some servers send raw deflate under "deflate"; a zlib header is recognisable (RFC 1950).
    return hasZlibHeader(bytes) ? createInflate(ZLIB_OPTIONS) : createInflateRaw(ZLIB_OPTIONS);
  }
  return createGunzip(ZLIB_OPTIONS);
}

function hasZlibHeader(bytes: Uint8Array): boolean {
  const cmf = bytes[0];
  const flg = bytes[1];
  if (cmf === undefined || flg === undefined) return false;
  return (cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0;
}
