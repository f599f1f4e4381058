/**
 * Turns the cells of a run into what the report prints: per scenario and target, the median over
 * rounds (peak memory: the largest), counts summed over every cell; ratios of the first target
 * against each other one; and the warnings a reader must not miss.
 */
import type { Cell, Percentiles } from "./measure.ts";
import { SCENARIOS } from "./scenarios.ts";

/** One scenario on one target, over all rounds. */
export interface Summary {
  readonly scenario: string;
  readonly target: string;
  /** Closed loop: streams/s at saturation. */
  readonly streamsPerS: number | undefined;
  /** Closed loop: CPU seconds per 1,000 streams, of the target's process tree and of the generators. */
  readonly serverCpuPer1k: number | undefined;
  readonly generatorCpuPer1k: number | undefined;
  /** Closed loop: the largest RSS seen. */
  readonly peakRssBytes: number | undefined;
  /** Open loop: the rate asked for, the rate achieved, and the latencies. */
  readonly openRate: number | undefined;
  readonly openPerS: number | undefined;
  readonly message: Percentiles | undefined;
  readonly stream: Percentiles | undefined;
  /** Over every cell, warm-ups included for errors. */
  readonly streams: number;
  readonly blocked: number;
  readonly errors: number;
  /** Open loop: the share of streams refused by load shedding (median over rounds). */
  readonly shedShare: number | undefined;
  readonly firstError: string;
  readonly endedEarly: number;
  readonly verified: number;
  readonly mismatches: number;
}

/** The first target against another one, for one scenario (first / other). */
export interface Ratio {
  readonly scenario: string;
  readonly target: string;
  readonly against: string;
  readonly streamsPerS: number | undefined;
  readonly streamP99: number | undefined;
  readonly serverCpuPer1k: number | undefined;
  readonly peakRss: number | undefined;
}

/** The median of the defined values, or undefined. */
export function median(values: ReadonlyArray<number | undefined>): number | undefined {
  const sorted = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function medianPercentiles(cells: readonly Cell[], pick: (cell: Cell) => Percentiles) {
  if (cells.length === 0) return undefined;
  const of = (key: keyof Percentiles) => median(cells.map((cell) => pick(cell)[key])) ?? 0;
  return { p50: of("p50"), p99: of("p99"), p999: of("p999"), max: of("max") };
}

const per1k = (seconds: number | undefined, streams: number) =>
  seconds === undefined || streams === 0 ? undefined : (seconds / streams) * 1000;

function summarize(scenario: string, target: string, cells: readonly Cell[]): Summary {
  const closed = cells.filter((cell) => cell.loop === "closed");
  const open = cells.filter((cell) => cell.loop === "open");
  const total = (pick: (cell: Cell) => number) => cells.reduce((sum, cell) => sum + pick(cell), 0);
  const peaks = closed.map((cell) => cell.peakRssBytes).filter((v) => v !== undefined);
  return {
    scenario,
    target,
    streamsPerS: median(closed.map((cell) => cell.streamsPerS)),
    serverCpuPer1k: median(closed.map((cell) => per1k(cell.serverCpuS, cell.streams))),
    generatorCpuPer1k: median(closed.map((cell) => per1k(cell.generatorCpuS, cell.streams))),
    peakRssBytes: peaks.length > 0 ? Math.max(...peaks) : undefined,
    openRate: median(open.map((cell) => cell.rate)),
    openPerS: median(open.map((cell) => cell.streamsPerS)),
    message: medianPercentiles(open, (cell) => cell.message),
    stream: medianPercentiles(open, (cell) => cell.stream),
    streams: total((cell) => cell.streams),
    blocked: total((cell) => cell.blocked),
    errors: total((cell) => cell.errors),
    shedShare: median(open.map((cell) => cell.shed / Math.max(1, cell.shed + cell.streams))),
    firstError: cells.find((cell) => cell.firstError !== "")?.firstError ?? "",
    endedEarly: total((cell) => cell.endedEarly),
    verified: total((cell) => cell.verified),
    mismatches: total((cell) => cell.mismatches),
  };
}

/** Summaries in scenario order, then target order. */
export function summarizeAll(
  cells: readonly Cell[],
  scenarios: readonly string[],
  targets: readonly string[],
): Summary[] {
  return scenarios.flatMap((scenario) =>
    targets.map((target) =>
      summarize(
        scenario,
        target,
        cells.filter((cell) => cell.scenario === scenario && cell.target === target),
      ),
    ),
  );
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b;

/** The first target against each other one, per scenario. */
export function ratios(summaries: readonly Summary[], targets: readonly string[]): Ratio[] {
  const [first, ...others] = targets;
  if (first === undefined) return [];
  const find = (scenario: string, target: string) =>
    summaries.find((s) => s.scenario === scenario && s.target === target);
  const scenarios = [...new Set(summaries.map((s) => s.scenario))];
  return scenarios.flatMap((scenario) =>
    others.flatMap((other) => {
      const a = find(scenario, first);
      const b = find(scenario, other);
      if (a === undefined || b === undefined) return [];
      return [
        {
          scenario,
          target: first,
          against: other,
          streamsPerS: ratio(a.streamsPerS, b.streamsPerS),
          streamP99: ratio(a.stream?.p99, b.stream?.p99),
          serverCpuPer1k: ratio(a.serverCpuPer1k, b.serverCpuPer1k),
          peakRss: ratio(a.peakRssBytes, b.peakRssBytes),
        },
      ];
    }),
  );
}

/** What the reader must see: blocks in benign traffic, errors, a generator as costly as the server. */
export function warnings(summaries: readonly Summary[], floors: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of summaries) {
    const benign = SCENARIOS.find((scenario) => scenario.name === s.scenario)?.benign ?? true;
    const where = `${s.scenario} on ${s.target}`;
    if (benign && s.blocked > 0) {
      out.push(`BENIGN TRAFFIC BLOCKED: ${where}: ${s.blocked} of ${s.streams} streams`);
    }
    if (s.errors > 0) out.push(`ERRORS: ${where}: ${s.errors} (first: ${s.firstError})`);
    if (s.mismatches > 0) {
      out.push(`DECODER MISMATCH: ${where}: ${s.mismatches} of ${s.verified} replies checked`);
    }
    if (!benign && !floors.includes(s.target) && s.blocked < s.streams) {
      out.push(
        `attack not always blocked: ${where}: ${s.blocked} of ${s.streams} streams (WAF time budget spent under load?)`,
      );
    }
    const server = s.serverCpuPer1k;
    if (server !== undefined && (s.generatorCpuPer1k ?? 0) >= server) {
      out.push(
        `generator as costly as the server: ${where}: the load may be client-bound (try --generators, --client-cpus)`,
      );
    }
  }
  return out;
}
