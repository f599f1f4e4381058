/**
 * Load shedding: whether a new ext_proc stream is admitted. When the process is saturated, every
 * stream it accepts waits behind the others (streams in flight over throughput), so past saturation
 * all of them get slow together and then fail by Envoy's message timeout. Refusing new streams at
 * once instead lets Envoy apply its failure mode (`failure_mode_allow`) without waiting, keeps the
 * admitted streams fast, and stops as soon as the process catches up.
 *
 * Two signals, both per process (per worker):
 * - event-loop delay: the mean delay of libuv's timer over the last window (`monitorEventLoopDelay`
 *   samples it natively, at no cost per message), counted only while the loop is busy nearly all
 *   the time (event-loop utilization). It rises when more work is queued than the loop can run,
 *   which is exactly the queueing to avoid, whatever the kind of work;
 * - open streams: a hard bound, because an ext_proc stream lives as long as its HTTP request, and
 *   idle ones cost memory but no event-loop time.
 * A refused stream is refused before its first message is read: no decoding, no WAF work.
 *
 * The delay does not switch admission off and on (all new streams refused for a window, then all
 * admitted, which lets a burst in and oscillates): it steers the share of new streams admitted,
 * cut by a quarter after each window over the limit and raised by a twentieth after each window
 * under it (AIMD, as TCP's congestion window), so the admitted load settles where the process
 * keeps up. The share is applied evenly (every n-th stream), not at random.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";

/** Why a stream was refused, for its gRPC status details and the logs. */
export type Refusal =
  | {
      readonly reason: "event-loop-delay";
      readonly delayMs: number;
      readonly limitMs: number;
      /** The share of new streams admitted at the time. */
      readonly share: number;
    }
  | { readonly reason: "open-streams"; readonly open: number; readonly limit: number };

/** Decides on new streams. */
export interface Admission {
  /** `undefined` admits the stream; `open` is the count of streams already open. */
  check(open: number): Refusal | undefined;
  /** Streams refused since start. */
  readonly refused: number;
  /** The event-loop delay of the last window, in milliseconds. */
  readonly delayMs: number;
  /** The share of new streams admitted (1: all). */
  readonly share: number;
  /** Stops sampling. */
  stop(): void;
}

/** Options of {@link createAdmission}; a limit of 0 turns its signal off. */
export interface AdmissionOptions {
  readonly maxEventLoopDelayMs: number;
  readonly maxOpenStreams: number;
}

/** Width of the window the delay is averaged over: short, so shedding starts and stops quickly. */
const WINDOW_MS = 100;
/** Resolution of libuv's sampling timer. */
const RESOLUTION_MS = 10;
/** Multiplicative decrease of the admitted share per window over the limit. */
const DECREASE = 0.75;
/** Additive increase of the admitted share per window under the limit. */
const INCREASE = 0.05;
/** The share never goes below this: the delay must keep being measured with some traffic. */
const MIN_SHARE = 0.02;
/**
 * Event-loop utilization (busy time over wall time) above which a late loop is our own overload.
 * A process starved of CPU by its neighbours (a busy node, CFS throttling of an idle pod) also sees
 * late timers while its loop mostly waits for I/O; refusing then would fail requests open for no
 * gain, so the delay counts only when the loop was busy nearly all the window.
 */
const BUSY_UTILIZATION = 0.9;

/**
 * Samples the event-loop delay; returns a function that stops sampling. The histogram is never
 * reset (its first sample after a reset is lost, the very one a long loop turn produces): the
 * window's mean comes from the running count and mean. Each sample is the time between two runs of
 * libuv's timer, so the delay is what exceeds the resolution. A window with no sample at all means
 * one loop turn took it whole, which our own timer's lateness shows.
 */
function sampleDelay(onWindow: (delayMs: number, utilization: number) => void): () => void {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let count = 0;
  let sum = 0;
  let last = performance.now();
  let elu = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const utilization = performance.eventLoopUtilization(elu).utilization;
    elu = performance.eventLoopUtilization();
    const now = performance.now();
    const late = now - last - WINDOW_MS;
    last = now;
    const nextCount = histogram.count;
    const nextSum = histogram.mean * nextCount;
    const samples = nextCount - count;
    const mean = samples > 0 ? (nextSum - sum) / samples / 1e6 - RESOLUTION_MS : 0;
    count = nextCount;
    sum = nextSum;
    onWindow(Math.max(late, mean, 0), utilization);
  }, WINDOW_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    histogram.disable();
  };
}

class Controller implements Admission {
  refused = 0;
  delayMs = 0;
  share = 1;
  /** Admission credit: each new stream adds `share`, an admitted one spends 1. */
  #credit = 0;
  readonly #options: AdmissionOptions;
  readonly #stop: () => void;

  constructor(options: AdmissionOptions) {
    this.#options = options;
    this.#stop =
      options.maxEventLoopDelayMs > 0
        ? sampleDelay((delayMs, utilization) => this.#steer(delayMs, utilization))
        : () => {};
  }

  #steer(delayMs: number, utilization: number): void {
    this.delayMs = delayMs;
    this.share =
      delayMs > this.#options.maxEventLoopDelayMs && utilization > BUSY_UTILIZATION
        ? Math.max(MIN_SHARE, this.share * DECREASE)
        : Math.min(1, this.share + INCREASE);
  }

  check(open: number): Refusal | undefined {
    const { maxOpenStreams, maxEventLoopDelayMs } = this.#options;
    let refusal: Refusal | undefined;
    if (maxOpenStreams > 0 && open >= maxOpenStreams)
      refusal = { reason: "open-streams", open, limit: maxOpenStreams };
    else if (this.share < 1) {
      this.#credit = Math.min(1, this.#credit + this.share);
      if (this.#credit >= 1) this.#credit -= 1;
      else
        refusal = {
          reason: "event-loop-delay",
          delayMs: this.delayMs,
          limitMs: maxEventLoopDelayMs,
          share: this.share,
        };
    }
    if (refusal) this.refused++;
    return refusal;
  }

  stop(): void {
    this.#stop();
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
  delayMs: 0,
  share: 1,
  stop: () => {},
};

/** The gRPC status details of a refusal. */
export function describeRefusal(refusal: Refusal): string {
  return refusal.reason === "open-streams"
    ? `overloaded: ${refusal.open} streams open, limit ${refusal.limit}`
    : `overloaded: admitting ${Math.round(refusal.share * 100)}% of new streams (event loop delay ${Math.round(refusal.delayMs)} ms, limit ${refusal.limitMs} ms)`;
}
