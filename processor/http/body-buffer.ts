/** Accumulation of body chunks up to the body parsing limit. */

/** A body accumulated chunk by chunk, never holding more than its limit. */
export interface BodyBuffer {
  /** Keeps the part of `chunk` that fits; copies it, so the caller may reuse its buffer. */
  append(chunk: Uint8Array): void;
  /** The kept bytes, concatenated (cached until the next append). */
  bytes(): Uint8Array;
  /** Bytes kept, at most the limit. */
  readonly size: number;
  /** True once a byte arrived that did not fit. A chunk that exactly fills the buffer does not set it. */
  readonly truncated: boolean;
  /** Total bytes seen, kept or not. */
  readonly received: number;
}

/**
 * Creates a buffer that keeps at most `limit` bytes (a limit ≤ 0 keeps nothing). Chunks are
 * stored as copies and joined on demand, so memory follows what was kept, not the limit: a small
 * body does not reserve 10 MiB. Matches the Go reference's truncation rule (§4.2).
 */
export function createBodyBuffer(limit: number): BodyBuffer {
  const max = Math.max(0, Math.floor(limit));
  let chunks: Uint8Array[] = [];
  let size = 0;
  let received = 0;
  let truncated = false;
  return {
    append(chunk) {
      received += chunk.byteLength;
      const room = max - size;
      if (chunk.byteLength > room) truncated = true;
      const kept = Math.min(room, chunk.byteLength);
      if (kept === 0) return;
      chunks.push(chunk.slice(0, kept));
      size += kept;
    },
    bytes() {
      if (chunks.length !== 1) chunks = [Buffer.concat(chunks, size)];
      return chunks[0] as Uint8Array;
    },
    get size() {
      return size;
    },
    get truncated() {
      return truncated;
    },
    get received() {
      return received;
    },
  };
}
