/**
 * Ends ext_proc streams that went quiet: a stream that sends nothing, or sends request headers and
 * then stalls, would otherwise hold its inspection, WAF context and HTTP/2 stream until the connection
 * dies. Envoy ends its own HTTP streams after its stream idle timeout (5 min by default), so a
 * stream silent for longer than ours is no longer serving a request.
 *
 * One coarse sweep for all streams rather than a timer per stream or per message: each message
 * only writes the sweep's tick count into its stream's entry (no timer is armed or cleared on the
 * hot path), and an unreferenced interval of a fraction of the timeout walks the open streams. A
 * stream is thus ended between `timeoutMs` and `timeoutMs` plus one sweep interval after its last
 * message. Idleness is counted in sweeps, not wall time: when the event loop is blocked (a huge
 * message, overload), sweeps come late and the timeout stretches, so a stream whose message waits
 * behind our own backlog is never taken for a silent one.
 */

/** One tracked stream: the transport marks it active and is told when it is idle. */
export interface IdleEntry {
  /** Records activity (a message received or a reply sent): one property write. */
  touch(): void;
  /** Stops tracking: the stream ended. */
  release(): void;
}

/** Tracks the open streams of one process. */
export interface IdleStreams {
  /** Starts tracking a stream; `onIdle` runs once if it stays silent for the timeout. */
  track(onIdle: (idleMs: number) => void): IdleEntry;
  /** Streams currently tracked. */
  readonly size: number;
  /** The timeout, in milliseconds (0: streams are never ended for idleness). */
  readonly timeoutMs: number;
  /** Stops the sweep (tests and shutdown). */
  stop(): void;
}

/** Sweep interval bounds: fine enough for short test timeouts, cheap for the default minutes. */
const MIN_SWEEP_MS = 20;
const MAX_SWEEP_MS = 5000;

class Entry implements IdleEntry {
  lastTick: number;
  readonly onIdle: (idleMs: number) => void;
  readonly #owner: Sweeper;

  constructor(owner: Sweeper, onIdle: (idleMs: number) => void) {
    this.#owner = owner;
    this.onIdle = onIdle;
    this.lastTick = owner.tick;
  }

  touch(): void {
    this.lastTick = this.#owner.tick;
  }

  release(): void {
    this.#owner.entries.delete(this);
  }
}

class Sweeper implements IdleStreams {
  readonly entries = new Set<Entry>();
  readonly timeoutMs: number;
  /** The coarse clock: sweeps so far, read by every `touch`. */
  tick = 0;
  readonly #intervalMs: number;
  /** Sweeps without activity after which a stream is idle. */
  readonly #limitTicks: number;
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    this.#intervalMs = Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, Math.floor(timeoutMs / 8)));
    this.#limitTicks = Math.ceil(timeoutMs / this.#intervalMs);
    if (timeoutMs <= 0) return;
    this.#timer = setInterval(() => this.#sweep(), this.#intervalMs);
    this.#timer.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  track(onIdle: (idleMs: number) => void): IdleEntry {
    const entry = new Entry(this, onIdle);
    if (this.timeoutMs > 0) this.entries.add(entry);
    return entry;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sweep(): void {
    this.tick++;
    const oldest = this.tick - this.#limitTicks;
    for (const entry of this.entries) {
      if (entry.lastTick > oldest) continue;
      this.entries.delete(entry);
      entry.onIdle((this.tick - entry.lastTick) * this.#intervalMs);
    }
  }
}

/** Tracks streams and ends those silent for `timeoutMs`; 0 tracks nothing. */
export function createIdleStreams(timeoutMs: number): IdleStreams {
  return new Sweeper(timeoutMs);
}
