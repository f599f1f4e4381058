/**
 * Body accumulation for one direction, and the decision whether a body is worth asking Envoy for.
 */
import { type BodyBuffer, bodyInspection, createBodyBuffer } from "../http/index.ts";
import type { BodyMode } from "./verdict.ts";

/** One direction's body while it streams in. */
export interface BodyState {
  /** The bytes so far; replaced by an empty buffer once analysed, so they can be collected. */
  buffer: BodyBuffer;
  /** Bytes of the shared body budget this body holds. */
  reserved: number;
  /** Cut short because the shared body budget was spent: analysed as truncated. */
  cut: boolean;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  /** Analysed already: later chunks are acknowledged without looking at them. */
  analysed: boolean;
  /**
   * Asked for as BUFFERED_PARTIAL: Envoy sends one message, with end_of_stream false when it
   * cut the body at its buffer limit, and nothing after it; so that message is analysed at once.
   */
  readonly singleMessage: boolean;
}

/** What decides whether a body is inspected. */
export interface BodyMeta {
  readonly contentType?: string | undefined;
  readonly contentEncoding?: string | undefined;
  /** Set on requests only (an HttpRequest has it): only request bodies are sniffed. */
  readonly method?: string;
}

/**
 * A body is inspected when body inspection is on (limit > 0) and its content type is one we parse
 * (JSON, forms, multipart, XML, plain text), or, for a request, says nothing (none, malformed,
 * octet-stream), so the bytes are sniffed. Other types (images, archives) are never requested:
 * they would cost Envoy round trips for nothing the WAF can read.
 */
export function isInspectable(meta: BodyMeta, limit: number): boolean {
  if (limit <= 0) return false;
  const inspection = bodyInspection(meta.contentType);
  return inspection === "parse" || (inspection === "sniff" && meta.method !== undefined);
}

/** A fresh body state for `meta`, bounded by `limit` bytes, for a body asked for in `mode`. */
export function createBodyState(meta: BodyMeta, limit: number, mode: BodyMode): BodyState {
  // A sniffed upload that turns out to be an image or an archive is not held to the limit.
  const stopOnBinary = bodyInspection(meta.contentType) === "sniff";
  return {
    buffer: createBodyBuffer(limit, { stopOnBinary }),
    reserved: 0,
    cut: false,
    contentType: meta.contentType,
    contentEncoding: meta.contentEncoding,
    analysed: false,
    singleMessage: mode === "buffered-partial",
  };
}
