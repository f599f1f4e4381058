/**
 * Load shedding: whether a new ext_proc stream is admitted. Past saturation every stream a process
 * accepts waits behind the others, so all of them get slow together and then fail by Envoy's
 * message timeout, seconds later, the work spent on them wasted. Refusing new streams at once
 * instead lets Envoy apply its failure mode (`failure_mode_allow`) without waiting, and keeps the
 * admitted streams within the timeout.
 *
 * The signal is how long a new stream has already waited in this process when its headers are
 * read: its queueing delay, as CoDel measures a packet's sojourn time. Past saturation the backlog
 * sits in the socket's receive buffer, not in our code, and libuv reads it in large batches (up to
 * 32 reads of 64 KiB per connection per loop turn) that the HTTP/2 session turns into streams in
 * one synchronous run. So the delay follows from the loop's turns, marked by a coarse interval
 * timer (it runs at the start of a turn): while turns follow each other back to back, what a turn
 * reads arrived during the turn before, so each stream waited about that turn's length, and a
 * stream met late into a long turn waited at least as long as the turn has run. One clock read per
 * new stream, no allocation.
 *
 * A stall is not an overload: a neighbour holding the CPU, a garbage collection, a large body or
 * a burst of requests makes one turn long, and the next one serves what arrived meanwhile. So
 * streams are refused only once the process is backlogged: its turns have all been late by the
 * limit for an interval (CoDel's, lengthened to 200 ms). Then a turn admits streams until a limit's
 * worth of delay and refuses the rest, each refusal costing a small fraction of a served stream (it
 * is answered before grpc-js builds a call: `stream-gate.ts`), and the process stays backlogged
 * until no turn has been late by half the limit for a second (a turn that only refused streams is
 * short without the backlog being gone).
 *
 * Open streams are bounded too: a stream lives as long as its HTTP request, and idle ones cost
 * memory but no loop time, which the delay cannot see.
 */
/**
 * Why a stream was refused, for its gRPC status details, the logs and the metrics (whose
 * `RefusalReason` the reasons must match: `services.ts` passes them on).
 */
export type Refusal =
  | { readonly reason: "queue-delay"; readonly delayMs: number; readonly limitMs: number }
  | { readonly reason: "open-streams"; readonly open: number; readonly limit: number };

/** Decides on new streams. */
export interface Admission {
  /** `undefined` admits the stream; `open` is the count of streams already open. */
  check(open: number): Refusal | undefined;
  /** Streams refused since start. */
  readonly refused: number;
  /** Stops the turn clock. */
  stop(): void;
}

/** Options of {@link createAdmission}; a limit of 0 turns its signal off. */
export interface AdmissionOptions {
  readonly maxQueueDelayMs: number;
  readonly maxOpenStreams: number;
}

/**
 * Period of the timer that marks loop turns. Turns shorter than this share a mark, so a delay is
 * overestimated by at most this much; a limit should be a few times larger.
 */
const TURN_MARK_MS = 10;

/**
 * CoDel's interval: the loop must have run late by the limit, turn after turn, for this long before
 * the process counts as backlogged. Longer than CoDel's 100 ms: at half of saturation a 100 ms
 * stall (measured once a minute or so on a serving process) is followed by about as long again of
 * late turns while its backlog drains, and 100 ms refused a few streams per thousand there.
 */
const INTERVAL_MS = 200;

/**
 * How long the process stays backlogged after its last late turn. Under overload, turns that
 * admitted streams are late and turns that only refused are short; leaving the state after a few
 * short turns let the backlog build again for a whole interval, unrefused (seen as 200-300 ms
 * turns every few hundred ms, the served streams' p99). Staying longer costs nothing once the load
 * is gone: a stream is refused only if it waited past the limit.
 */
const HOLD_MS = 1000;

/**
 * When the current loop turn began, how long the turn before it lasted, and whether the process
 * is backlogged: a stall (a neighbour holding the CPU, a garbage collection, one large body) makes
 * one turn late, the streams that arrived meanwhile are served by the next one; a backlog makes
 * every turn late. Once backlogged, a turn that only refused streams is short without the backlog
 * being gone, hence the hold.
 */
class TurnClock {
  /** When the timers phase last ran. */
  markedAt = performance.now();
  /** The time between its last two runs: the length of the turn(s) before this one. */
  previousMs = 0;
  /** Until when the process counts as backlogged. */
  #backloggedUntil = 0;
  /** Since the end of the first of the turns late by the limit that followed each other. */
  #lateSince: number | undefined;
  readonly #holdMs: number;
  readonly #timer: NodeJS.Timeout;

  constructor(limitMs: number) {
    const holdMs = Math.max(HOLD_MS, 2 * limitMs);
    this.#holdMs = holdMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.previousMs = now - this.markedAt;
      this.markedAt = now;
      const lateMs = this.previousMs - TURN_MARK_MS;
      if (lateMs >= limitMs) this.#lateSince ??= now;
      else this.#lateSince = undefined;
      // Once backlogged, a turn late by half the limit keeps it so.
      if (lateMs >= limitMs / 2 && this.backlogged(now)) this.#backloggedUntil = now + holdMs;
    }, TURN_MARK_MS);
    this.#timer.unref();
  }

  /**
   * Whether the process is backlogged. Also asked within a turn: the turn that follows a late one
   * at the onset of an overload reads everything that queued meanwhile, and is itself the second
   * late turn that the timer would only see at its end.
   */
  backlogged(now: number): boolean {
    if (now < this.#backloggedUntil) return true;
    if (this.#lateSince === undefined || now - this.#lateSince < INTERVAL_MS) return false;
    this.#backloggedUntil = now + this.#holdMs;
    return true;
  }

  /**
   * How long a stream met now has waited in this process. While turns follow each other back to
   * back, the bytes a turn reads arrived during the turn before, in order, so each waited about
   * that turn's length; a stream met later than that into the current turn waited at least as long
   * as the turn has run (a backlog growing within the turn).
   */
  queueDelayMs(now: number): number {
    return Math.max(this.previousMs, now - this.markedAt);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

class Controller implements Admission {
  refused = 0;
  readonly #options: AdmissionOptions;
  readonly #clock: TurnClock | undefined;

  constructor(options: AdmissionOptions) {
    this.#options = options;
    this.#clock = options.maxQueueDelayMs > 0 ? new TurnClock(options.maxQueueDelayMs) : undefined;
  }

  check(open: number): Refusal | undefined {
    const refusal = this.#refusal(open);
    if (refusal) this.refused++;
    return refusal;
  }

  #refusal(open: number): Refusal | undefined {
    const { maxOpenStreams, maxQueueDelayMs } = this.#options;
    if (maxOpenStreams > 0 && open >= maxOpenStreams)
      return { reason: "open-streams", open, limit: maxOpenStreams };
    const clock = this.#clock;
    if (clock === undefined) return undefined;
    const now = performance.now();
    if (!clock.backlogged(now)) return undefined;
    const delayMs = clock.queueDelayMs(now);
    return delayMs > maxQueueDelayMs
      ? { reason: "queue-delay", delayMs, limitMs: maxQueueDelayMs }
      : undefined;
  }

  stop(): void {
    this.#clock?.stop();
  }
}

/** Starts the admission control of this process. */
export function createAdmission(options: AdmissionOptions): Admission {
  return new Controller(options);
}

/** Admits every stream (servers built without load shedding, e.g. in tests). */
export const ADMIT_ALL: Admission = {
  check: () => undefined,
  refused: 0,
  stop: () => {},
};

/** The gRPC status details of a refusal. */
export function describeRefusal(refusal: Refusal): string {
  return refusal.reason === "open-streams"
    ? `overloaded: ${refusal.open} streams open, limit ${refusal.limit}`
    : `overloaded: new stream queued ${Math.round(refusal.delayMs)} ms in this worker, limit ${refusal.limitMs} ms`;
}
