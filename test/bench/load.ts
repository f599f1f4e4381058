/**
 * The load generator: ext_proc streams (`ExchangeStream`) multiplexed over a few HTTP/2
 * connections, as Envoy's worker threads each hold one, in a closed loop (a fixed number of streams
 * in flight, each replaced as soon as it ends) or an open loop (streams started at a fixed rate,
 * Poisson or evenly spaced, whatever the server's pace; latency counts from the scheduled start so a
 * slow server cannot hide its queueing: no coordinated omission). It also holds idle streams open for
 * the memory measurement. Counting happens only inside a window opened by `mark` and closed by `stop`.
 */

import type { OutgoingHttpHeaders } from "node:http";
import { type ClientHttp2Session, connect } from "node:http2";
import { Histogram, type HistogramData } from "./histogram.ts";
import type { Plan } from "./scenarios.ts";
import { ExchangeStream, type StreamHost } from "./stream.ts";
import { checkPeek, type Peek, PROCESS_PATH } from "./wire.ts";

/** How long `openIdle` waits for the server to answer every idle stream. */
const IDLE_DEADLINE_MS = 60_000;

/** Where and what to send. */
export interface LoadOptions {
  /** `host:port` of the ext_proc server (cleartext HTTP/2). */
  readonly target: string;
  readonly connections: number;
  readonly plan: Plan;
  /** A stream still open after this long is cancelled and counted as an error. */
  readonly timeoutMs: number;
  /** How many replies of the run are also decoded in full and compared with the fast peek. */
  readonly verifyReplies: number;
}

/** How streams are started. */
export type Schedule =
  | { readonly kind: "closed"; readonly concurrency: number; readonly maxStreams?: number }
  | {
      readonly kind: "open";
      readonly rate: number;
      readonly arrival: "poisson" | "uniform";
      /** Streams beyond this many in flight wait, their latency still counting. */
      readonly maxInFlight: number;
    };

/** What one measurement window saw. */
export interface WindowResult {
  readonly elapsedMs: number;
  /** Streams that ended inside the window, blocked ones included. */
  readonly streams: number;
  readonly blocked: number;
  readonly errors: number;
  /** Streams refused by load shedding (among the errors); not in the stream latencies. */
  readonly shed: number;
  readonly endedEarly: number;
  readonly stream: { readonly data: HistogramData; readonly maxUs: number };
  readonly message: { readonly data: HistogramData; readonly maxUs: number };
  /** How long refused streams took to be refused. */
  readonly shedLatency: { readonly data: HistogramData; readonly maxUs: number };
  /** CPU this process spent in the window, in microseconds. */
  readonly cpuUs: number;
  /** Errors since the start, warm-up included, and the first one's reason. */
  readonly errorsTotal: number;
  readonly firstError: string;
  /** Replies decoded in full, and how many disagreed with the peek (each also an error). */
  readonly verified: number;
  readonly mismatches: number;
  /** Open loop: the most streams that waited for a free slot at once. */
  readonly backlogMax: number;
}

/** Drives one target. */
export class Load implements StreamHost {
  readonly plan: Plan;
  readonly requestHeaders: OutgoingHttpHeaders;
  readonly #options: LoadOptions;
  readonly #sessions: ClientHttp2Session[] = [];
  readonly #inFlight = new Set<ExchangeStream>();
  readonly #streamLatency = new Histogram();
  readonly #messageLatency = new Histogram();
  readonly #shedLatency = new Histogram();
  readonly #backlog: number[] = [];
  #schedule: Schedule | undefined;
  #running = false;
  #measuring = false;
  #windowStart = 0;
  #cpuStart = process.cpuUsage();
  #started = 0;
  #next = 0;
  #nextAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #counts = { streams: 0, blocked: 0, errors: 0, shed: 0, endedEarly: 0 };
  #errorsTotal = 0;
  #firstError = "";
  #verifyLeft: number;
  #verified = 0;
  #mismatches = 0;
  #backlogMax = 0;
  #idle = { answered: 0, failed: 0, wanted: 0, settle: () => {} };
  #drained: (() => void) | undefined;

  constructor(options: LoadOptions) {
    this.#options = options;
    this.plan = options.plan;
    this.#verifyLeft = options.verifyReplies;
    this.requestHeaders = {
      ":method": "POST",
      ":path": PROCESS_PATH,
      ":authority": options.target,
      "content-type": "application/grpc",
      te: "trailers",
      "x-datadog-envoy-integration": "1",
    };
  }

  /** Opens the connections and waits for the server's SETTINGS on each. */
  async connect(): Promise<void> {
    for (let i = 0; i < this.#options.connections; i++) this.#sessions.push(this.#open());
    await Promise.all(
      this.#sessions.map(
        (session) =>
          new Promise<void>((resolve, reject) => {
            session.once("remoteSettings", () => resolve());
            session.once("error", reject);
          }),
      ),
    );
    this.#sweeper = setInterval(() => this.#sweep(), 250);
  }

  /** Starts sending. */
  run(schedule: Schedule): void {
    this.#schedule = schedule;
    this.#running = true;
    if (schedule.kind === "closed") {
      for (let slot = 0; slot < schedule.concurrency; slot++) this.#startClosed(slot);
    } else {
      this.#nextAt = performance.now();
      this.#tick();
    }
  }

  /** Opens the measurement window: counters and histograms start from zero. */
  mark(): void {
    this.#counts = { streams: 0, blocked: 0, errors: 0, shed: 0, endedEarly: 0 };
    this.#streamLatency.reset();
    this.#messageLatency.reset();
    this.#shedLatency.reset();
    this.#measuring = true;
    this.#windowStart = performance.now();
    this.#cpuStart = process.cpuUsage();
  }

  /** Closes the window and stops starting streams; those in flight go on (see `drain`). */
  stop(): WindowResult {
    const cpu = process.cpuUsage(this.#cpuStart);
    const elapsedMs = performance.now() - this.#windowStart;
    this.#measuring = false;
    this.#running = false;
    clearTimeout(this.#timer);
    this.#backlog.length = 0;
    return {
      elapsedMs,
      ...this.#counts,
      stream: { data: this.#streamLatency.toData(), maxUs: this.#streamLatency.maxUs },
      message: { data: this.#messageLatency.toData(), maxUs: this.#messageLatency.maxUs },
      shedLatency: { data: this.#shedLatency.toData(), maxUs: this.#shedLatency.maxUs },
      cpuUs: cpu.user + cpu.system,
      errorsTotal: this.#errorsTotal,
      firstError: this.#firstError,
      verified: this.#verified,
      mismatches: this.#mismatches,
      backlogMax: this.#backlogMax,
    };
  }

  /** Waits until no stream is in flight, or `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.#inFlight.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Opens `count` streams that send request headers announcing a body and then nothing: each
   * waits for a body that never comes. Resolves once every one was answered (or failed).
   */
  openIdle(count: number): Promise<{ answered: number; failed: number }> {
    return new Promise((resolve) => {
      this.#idle = {
        answered: 0,
        failed: 0,
        wanted: count,
        settle: () => resolve({ answered: this.#idle.answered, failed: this.#idle.failed }),
      };
      // A server that never answers some of them must not hang the run.
      setTimeout(() => this.#idle.settle(), IDLE_DEADLINE_MS).unref();
      const now = performance.now();
      for (let i = 0; i < count; i++) {
        this.#inFlight.add(new ExchangeStream(this, this.#session(i), now, true));
      }
      if (count === 0) this.#idle.settle();
    });
  }

  /** Resets every idle stream; returns how many were open. */
  cancelIdle(): number {
    let cancelled = 0;
    for (const stream of this.#inFlight) {
      if (!stream.idle) continue;
      stream.cancel();
      cancelled++;
    }
    return cancelled;
  }

  /** Closes the connections. */
  close(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    clearInterval(this.#sweeper);
    for (const session of this.#sessions) session.destroy();
  }

  verify(bytes: Buffer, peek: Peek): string | undefined {
    if (this.#verifyLeft <= 0) return undefined;
    this.#verifyLeft--;
    this.#verified++;
    const mismatch = checkPeek(bytes, peek);
    if (mismatch !== undefined) this.#mismatches++;
    return mismatch;
  }

  messageLatency(ms: number): void {
    if (this.#measuring) this.#messageLatency.record(ms * 1000);
  }

  idleAnswered(): void {
    this.#idle.answered++;
    this.#idleProgress();
  }

  done(stream: ExchangeStream): void {
    this.#inFlight.delete(stream);
    if (stream.idle) {
      if (stream.outcome === "error" && stream.replies === 0) {
        this.#idle.failed++;
        this.#idleProgress();
      }
    } else this.#count(stream);
    if (this.#running && !stream.idle) {
      if (this.#schedule?.kind === "closed") this.#startClosed(stream.slot);
      else if (this.#backlog.length > 0) this.#startAt(this.#backlog.shift() ?? performance.now());
    }
    if (this.#inFlight.size === 0) this.#drained?.();
  }

  #count(stream: ExchangeStream): void {
    if (stream.outcome === "error") {
      this.#errorsTotal++;
      if (this.#firstError === "") this.#firstError = stream.reason;
    }
    if (!this.#measuring) return;
    const counts = this.#counts;
    if (stream.outcome === "error") {
      counts.errors++;
      if (stream.shed) {
        counts.shed++;
        this.#shedLatency.record((performance.now() - stream.startedAt) * 1000);
      }
      return;
    }
    counts.streams++;
    if (stream.outcome === "blocked") counts.blocked++;
    if (stream.endedEarly) counts.endedEarly++;
    this.#streamLatency.record((performance.now() - stream.startedAt) * 1000);
  }

  #idleProgress(): void {
    const idle = this.#idle;
    if (idle.answered + idle.failed === idle.wanted) idle.settle();
  }

  #startClosed(slot: number): void {
    const schedule = this.#schedule;
    if (!this.#running || schedule?.kind !== "closed") return;
    if (schedule.maxStreams !== undefined && this.#started >= schedule.maxStreams) return;
    this.#started++;
    const stream = new ExchangeStream(this, this.#session(slot), performance.now());
    stream.slot = slot;
    this.#inFlight.add(stream);
  }

  /** Open loop: starts every stream whose time has come, then sleeps until the next one. */
  #tick = (): void => {
    const schedule = this.#schedule;
    if (!this.#running || schedule?.kind !== "open") return;
    const now = performance.now();
    while (this.#nextAt <= now) {
      if (this.#inFlight.size < schedule.maxInFlight) this.#startAt(this.#nextAt);
      else {
        this.#backlog.push(this.#nextAt);
        this.#backlogMax = Math.max(this.#backlogMax, this.#backlog.length);
      }
      const gap = 1000 / schedule.rate;
      this.#nextAt += schedule.arrival === "poisson" ? -Math.log(1 - Math.random()) * gap : gap;
    }
    this.#timer = setTimeout(this.#tick, Math.max(0, this.#nextAt - performance.now()));
  };

  #startAt(scheduledAt: number): void {
    this.#inFlight.add(new ExchangeStream(this, this.#session(this.#next++), scheduledAt));
  }

  /** The connection for `index`, reopened if the server closed it. */
  #session(index: number): ClientHttp2Session {
    const at = index % this.#sessions.length;
    const session = this.#sessions[at];
    if (session !== undefined && !session.closed && !session.destroyed) return session;
    const reopened = this.#open();
    this.#sessions[at] = reopened;
    return reopened;
  }

  #open(): ClientHttp2Session {
    const session = connect(`http://${this.#options.target}`, {
      // Envoy's defaults for upstream HTTP/2: large windows, so flow control never throttles.
      settings: { initialWindowSize: 16 * 1024 * 1024, enablePush: false },
      peerMaxConcurrentStreams: 1_000_000,
      maxSessionMemory: 1024,
    });
    session.on("connect", () => session.setLocalWindowSize(256 * 1024 * 1024));
    session.on("error", (error) => {
      this.#errorsTotal++;
      if (this.#firstError === "") this.#firstError = `connection: ${error.message}`;
    });
    return session;
  }

  #sweep(): void {
    const deadline = performance.now() - this.#options.timeoutMs;
    for (const stream of this.#inFlight) {
      if (!stream.idle && stream.startedAt < deadline) {
        stream.fail(`no end within ${this.#options.timeoutMs} ms`);
      }
    }
  }
}
