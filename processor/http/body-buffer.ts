/** Accumulation of body chunks up to the body parsing limit. */
import { isKnownBinary } from "./sniff.ts";

/** A body accumulated chunk by chunk, never holding more than its limit. */
export interface BodyBuffer {
  /** Keeps the part of `chunk` that fits; copies it, so the caller may reuse its buffer. */
  append(chunk: Uint8Array): void;
  /** The kept bytes, concatenated (cached until the next append). */
  bytes(): Uint8Array;
  /** Bytes kept, at most the limit. */
  readonly sizeBytes: number;
  /** True once a byte arrived that did not fit. A chunk that exactly fills the buffer does not set it. */
  readonly truncated: boolean;
  /** Total bytes seen, kept or not. */
  readonly received: number;
}

/** Options of {@link createBodyBuffer}. */
export interface BodyBufferOptions {
  /**
   * For a body whose type says nothing (sniffed): once its first bytes show a known binary
   * format (an image, an archive...), keep nothing more and report the buffer truncated, so the
   * body is analysed (and skipped) at once instead of holding an upload up to the limit.
   */
  stopOnBinary?: boolean;
}

/** Bytes needed to recognise a binary signature (ISO BMFF's `ftyp` ends at byte 8). */
const SIGNATURE_BYTES = 12;

/**
 * Creates a buffer that keeps at most `limitBytes` bytes (a limit ≤ 0 keeps nothing). Chunks are
 * stored as copies and joined on demand, so memory follows what was kept, not the limit: a small
 * body does not reserve 10 MiB. Matches the Go processor's truncation rule
 * (docs/go-compatibility.md#bodies).
 */
export function createBodyBuffer(limitBytes: number, options: BodyBufferOptions = {}): BodyBuffer {
  const max = Math.max(0, Math.floor(limitBytes));
  let chunks: Uint8Array[] = [];
  let size = 0;
  let received = 0;
  let truncated = false;
  let deciding = options.stopOnBinary === true;
  let stopped = false;
  const buffer: BodyBuffer = {
    append(chunk) {
      received += chunk.byteLength;
      const room = stopped ? 0 : max - size;
      if (chunk.byteLength > room) truncated = true;
      const kept = Math.min(room, chunk.byteLength);
      if (kept === 0) return;
      chunks.push(chunk.slice(0, kept));
      size += kept;
      if (deciding && size >= SIGNATURE_BYTES) {
        deciding = false;
        stopped = isKnownBinary(buffer.bytes());
        if (stopped) truncated = true;
      }
    },
    bytes() {
      if (chunks.length !== 1) chunks = [Buffer.concat(chunks, size)];
      return chunks[0] as Uint8Array;
    },
    get sizeBytes() {
      return size;
    },
    get truncated() {
      return truncated;
    },
    get received() {
      return received;
    },
  };
  return buffer;
}
