/**
 * A process-wide bound on the body bytes held for analysis. Each body is bounded by
 * DD_APPSEC_BODY_PARSING_SIZE_LIMIT, but thousands of concurrent uploads could still exhaust the
 * heap and crash the processor for everyone. When the budget is spent, a body is analysed with what
 * it already holds (as a truncated body) instead of growing: protection degrades for that body,
 * the process survives, and the cut is recorded.
 */

/** Shared accounting of buffered body bytes. */
export interface BodyBudget {
  /** Takes `bytes` from the budget; false (and nothing taken) when that would pass the limit. */
  tryReserve(bytes: number): boolean;
  /** Takes as much of `bytes` as is left, and says how much that was. */
  reserveUpTo(bytes: number): number;
  /** Gives back bytes taken earlier. */
  release(bytes: number): void;
  /** Bytes currently held. */
  readonly usedBytes: number;
  /** The bound, in bytes. */
  readonly limitBytes: number;
}

/** Creates a budget of `limit` bytes. */
export function createBodyBudget(limit: number): BodyBudget {
  let used = 0;
  return {
    tryReserve(bytes) {
      if (bytes <= 0) return true;
      if (used + bytes > limit) return false;
      used += bytes;
      return true;
    },
    reserveUpTo(bytes) {
      const granted = Math.max(0, Math.min(bytes, limit - used));
      used += granted;
      return granted;
    },
    release(bytes) {
      used = Math.max(0, used - bytes);
    },
    get usedBytes() {
      return used;
    },
    limitBytes: limit,
  };
}
