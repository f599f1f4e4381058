/**
 * One measurement ("cell"): fresh generator processes drive one target with one scenario, a warm-up,
 * then a window during which the generators count and the bench reads the target's CPU time and
 * samples its memory. Also the idle-streams memory measurement.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Generators } from "./generators.ts";
import { Histogram } from "./histogram.ts";
import type { Schedule, WindowResult } from "./load.ts";
import type { Options } from "./options.ts";
import { cpuSeconds, processTree, rssBytes } from "./proc.ts";
import type { Target } from "./targets.ts";

const RSS_SAMPLE_MS = 200;

/** Latency percentiles in milliseconds. */
export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** What one cell measured. */
export interface Cell {
  readonly scenario: string;
  readonly target: string;
  readonly round: number;
  readonly loop: "closed" | "open";
  /** Open loop: the rate asked for. */
  readonly rate: number | undefined;
  readonly streamsPerS: number;
  readonly streams: number;
  readonly blocked: number;
  readonly errors: number;
  /** Streams the target refused by load shedding in the window (also errors). */
  readonly shed: number;
  readonly firstError: string;
  readonly endedEarly: number;
  readonly message: Percentiles;
  readonly stream: Percentiles;
  /** CPU seconds of the target's process tree in the window; undefined when its PID is unknown. */
  readonly serverCpuS: number | undefined;
  readonly generatorCpuS: number;
  readonly peakRssBytes: number | undefined;
  readonly verified: number;
  readonly mismatches: number;
  readonly backlogMax: number;
}

/** What the idle-streams measurement saw. */
export interface IdleResult {
  readonly target: string;
  readonly streams: number;
  readonly answered: number;
  readonly failed: number;
  readonly baselineBytes: number;
  readonly openBytes: number;
  readonly afterBytes: number;
  readonly afterMs: number;
}

function percentiles(parts: WindowResult[], pick: (r: WindowResult) => WindowResult["stream"]) {
  const histogram = new Histogram();
  for (const part of parts) histogram.merge(pick(part).data, pick(part).maxUs);
  const ms = (q: number) => histogram.quantileUs(q) / 1000;
  return { p50: ms(0.5), p99: ms(0.99), p999: ms(0.999), max: histogram.maxUs / 1000 };
}

function sum(parts: WindowResult[], pick: (r: WindowResult) => number): number {
  return parts.reduce((total, part) => total + pick(part), 0);
}

/** Runs one cell. */
export async function measureCell(
  options: Options,
  target: Target,
  scenario: string,
  round: number,
  schedule: Schedule,
): Promise<Cell> {
  const generators = await Generators.start({
    target: target.address,
    scenario,
    processes: options.generators,
    connections: options.connections,
    chunkSize: options.chunkSize,
    timeoutMs: options.timeoutMs,
    verifyReplies: options.verifyReplies,
    cpus: options.clientCpus,
  });
  try {
    await generators.run(schedule);
    await sleep(options.warmupMs);
    const pid = target.pid;
    let tree = pid === undefined ? [] : processTree(pid);
    const cpuBefore = cpuSeconds(tree);
    await generators.mark();
    const durationMs = schedule.kind === "closed" ? options.durationMs : options.openDurationMs;
    const end = performance.now() + durationMs;
    let peak = 0;
    while (performance.now() < end) {
      await sleep(Math.min(RSS_SAMPLE_MS, Math.max(0, end - performance.now())));
      if (pid === undefined) continue;
      tree = processTree(pid);
      peak = Math.max(peak, rssBytes(tree));
    }
    const parts = await generators.stop();
    const cpuAfter = cpuSeconds(tree);
    return {
      scenario,
      target: target.name,
      round,
      loop: schedule.kind,
      rate: schedule.kind === "open" ? schedule.rate : undefined,
      streamsPerS: sum(parts, (part) => part.streams / (part.elapsedMs / 1000)),
      streams: sum(parts, (part) => part.streams),
      blocked: sum(parts, (part) => part.blocked),
      errors: sum(parts, (part) => part.errorsTotal),
      shed: sum(parts, (part) => part.shed),
      firstError: parts.find((part) => part.firstError !== "")?.firstError ?? "",
      endedEarly: sum(parts, (part) => part.endedEarly),
      message: percentiles(parts, (part) => part.message),
      stream: percentiles(parts, (part) => part.stream),
      serverCpuS: pid === undefined ? undefined : cpuAfter - cpuBefore,
      generatorCpuS: sum(parts, (part) => part.cpuUs) / 1e6,
      peakRssBytes: pid === undefined ? undefined : peak,
      verified: sum(parts, (part) => part.verified),
      mismatches: sum(parts, (part) => part.mismatches),
      backlogMax: Math.max(...parts.map((part) => part.backlogMax)),
    };
  } finally {
    await generators.exit();
  }
}

/**
 * Opens `options.idleStreams` streams that announce a request body and never send it, reads the
 * target's RSS before, while they are open, and `idleWaitMs` after they were cancelled.
 */
export async function measureIdle(
  options: Options,
  target: Target & { pid: number },
): Promise<IdleResult> {
  const generators = await Generators.start({
    target: target.address,
    scenario: "json1k",
    processes: options.generators,
    connections: options.connections,
    chunkSize: options.chunkSize,
    timeoutMs: options.timeoutMs,
    verifyReplies: 0,
    cpus: options.clientCpus,
  });
  const rss = () => rssBytes(processTree(target.pid));
  try {
    await sleep(1000);
    const baselineBytes = rss();
    const { answered, failed } = await generators.openIdle(options.idleStreams);
    await sleep(1000);
    const openBytes = rss();
    await generators.cancelIdle();
    await sleep(options.idleWaitMs);
    return {
      target: target.name,
      streams: options.idleStreams,
      answered,
      failed,
      baselineBytes,
      openBytes,
      afterBytes: rss(),
      afterMs: options.idleWaitMs,
    };
  } finally {
    await generators.exit();
  }
}
