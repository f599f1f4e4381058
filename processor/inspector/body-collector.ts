/**
 * One direction's body while it streams in: chunks are kept up to the limit and within the shared
 * {@link BodyBudget}, then handed over once for analysis. Also decides whether a body is worth
 * asking the proxy for.
 */
import { type BodyBuffer, bodyInspection, createBodyBuffer } from "../http/index.ts";
import type { BodyBudget } from "./body-budget.ts";
import type { BodyMode } from "./verdict.ts";

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
 * they would cost the proxy round trips for nothing the WAF can read.
 */
export function isInspectable(meta: BodyMeta, limitBytes: number): boolean {
  if (limitBytes <= 0) return false;
  const inspection = bodyInspection(meta.contentType);
  return inspection === "parse" || (inspection === "sniff" && meta.method !== undefined);
}

/** What {@link BodyCollector.add} says to do after a chunk. */
export type AfterChunk = "wait" | "analyse";

/** The collected body, handed over once. */
export interface CollectedBody {
  readonly bytes: Uint8Array;
  /** Cut at the limit or by the memory budget: parsed leniently. */
  readonly truncated: boolean;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  /** The memory budget was spent before the body's end. */
  readonly budgetSpent: boolean;
}

/** Accumulates one body for analysis. */
export class BodyCollector {
  #buffer: BodyBuffer;
  /** Bytes of the shared budget this body holds. */
  #reservedBytes = 0;
  #budgetSpent = false;
  #handedOver = false;
  readonly #meta: BodyMeta;
  readonly #limitBytes: number;
  readonly #budget: BodyBudget;
  /**
   * Asked for as BUFFERED_PARTIAL: the proxy sends one message, with end_of_stream false when it
   * cut the body at its buffer limit, and nothing after it; so that message is analysed at once.
   */
  readonly singleMessage: boolean;

  constructor(meta: BodyMeta, limitBytes: number, mode: BodyMode, budget: BodyBudget) {
    // A sniffed upload that turns out to be an image or an archive is not held to the limit.
    const stopOnBinary = bodyInspection(meta.contentType) === "sniff";
    this.#buffer = createBodyBuffer(limitBytes, { stopOnBinary });
    this.#meta = meta;
    this.#limitBytes = limitBytes;
    this.#budget = budget;
    this.singleMessage = mode === "buffered-partial";
  }

  /** Handed over already: later chunks are acknowledged without looking at them. */
  get handedOver(): boolean {
    return this.#handedOver;
  }

  /** Bytes held and not handed over yet. */
  get pending(): boolean {
    return !this.#handedOver && this.#buffer.sizeBytes > 0;
  }

  /** Keeps what fits of a chunk; says whether the body should be analysed now. */
  add(bytes: Uint8Array, endOfStream: boolean): AfterChunk {
    if (this.#handedOver) return "wait";
    const kept = Math.max(0, Math.min(bytes.length, this.#limitBytes - this.#buffer.sizeBytes));
    const granted = this.#budget.reserveUpTo(kept);
    this.#reservedBytes += granted;
    if (granted < kept) {
      // The shared budget is spent: keep what fits and analyse now, as a truncated body.
      this.#buffer.append(bytes.subarray(0, granted));
      this.#budgetSpent = true;
      return "analyse";
    }
    this.#buffer.append(bytes);
    return endOfStream || this.#buffer.truncated || this.singleMessage ? "analyse" : "wait";
  }

  /** Hands the body over for analysis, once, and gives its bytes back to the budget. */
  takeOver(): CollectedBody | undefined {
    if (this.#handedOver) return undefined;
    this.#handedOver = true;
    const body: CollectedBody = {
      bytes: this.#buffer.bytes(),
      truncated: this.#buffer.truncated || this.#budgetSpent,
      contentType: this.#meta.contentType,
      contentEncoding: this.#meta.contentEncoding,
      budgetSpent: this.#budgetSpent,
    };
    this.release();
    return body;
  }

  /** Gives the body's bytes back to the shared budget and drops them. Idempotent. */
  release(): void {
    this.#budget.release(this.#reservedBytes);
    this.#reservedBytes = 0;
    this.#buffer = createBodyBuffer(0);
  }
}
