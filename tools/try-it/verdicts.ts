/**
 * Pairs each exchange with the processor's per-stream debug line (`stream end`: outcome, rule ids,
 * blocked). The processor logs that line just before it ends the stream, and the streams of one
 * HTTP/2 connection end in order, so the k-th stream to end owns the k-th line.
 */

/** The processor's verdict for one stream. */
export interface StreamVerdict {
  outcome: string;
  rules: string[];
  blocked: boolean;
}

/** Matches `stream end` lines to stream ends, in order. */
export class VerdictLog {
  readonly #lines: StreamVerdict[] = [];
  readonly #waiters: Array<(verdict: StreamVerdict | undefined) => void> = [];

  /** Feeds one processor log line. */
  onLogLine(line: Record<string, unknown>): void {
    if (line.msg !== "stream end") return;
    const verdict: StreamVerdict = {
      outcome: String(line.outcome),
      rules: Array.isArray(line.rules) ? line.rules.map(String) : [],
      blocked: line.blocked === true,
    };
    const waiter = this.#waiters.shift();
    if (waiter) waiter(verdict);
    else this.#lines.push(verdict);
  }

  /** Claims the next line; call once per stream, in the order the streams ended. */
  claim(timeoutMs = 2000): Promise<StreamVerdict | undefined> {
    const ready = this.#lines.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        resolve(undefined);
      }, timeoutMs);
      const waiter = (verdict: StreamVerdict | undefined) => {
        clearTimeout(timer);
        resolve(verdict);
      };
      this.#waiters.push(waiter);
    });
  }
}
