/**
 * A whole run: every scenario on every target, in turns. Each round measures, per scenario, every
 * target's saturation (closed loop), then every target at the open-loop rate derived from it; the
 * target order rotates from round to round so none always goes first. The idle-streams memory
 * measurement comes last, once per target.
 */
import type { Schedule } from "./load.ts";
import { type Cell, type IdleResult, measureCell, measureIdle } from "./measure.ts";
import type { Options } from "./options.ts";
import type { Target } from "./targets.ts";

/** Everything measured. */
export interface RunResult {
  readonly cells: Cell[];
  readonly idle: IdleResult[];
}

/** Reports progress (stderr). */
export type Progress = (line: string) => void;

function rotate<T>(items: readonly T[], by: number): T[] {
  const at = by % Math.max(1, items.length);
  return [...items.slice(at), ...items.slice(0, at)];
}

function openRate(options: Options, target: Target, closed: Map<string, Cell>): number {
  const open = options.open;
  if (open.kind === "off") return 0;
  if (open.kind === "fixed") return open.rate;
  return open.fraction * (closed.get(open.of ?? target.name)?.streamsPerS ?? 0);
}

function describe(cell: Cell): string {
  const rate = cell.loop === "open" ? ` at ${cell.rate?.toFixed(0)}/s` : "";
  const problems =
    (cell.blocked > 0 ? ` blocked ${cell.blocked}` : "") +
    (cell.shed > 0 ? ` shed ${cell.shed}` : "") +
    (cell.errors > 0 ? ` errors ${cell.errors} (${cell.firstError})` : "");
  return `${cell.loop}${rate}: ${cell.streamsPerS.toFixed(0)} streams/s, stream p99 ${cell.stream.p99.toFixed(2)} ms${problems}`;
}

/** Runs every round, then the idle-streams measurement. */
export async function runAll(
  options: Options,
  targets: readonly Target[],
  progress: Progress,
): Promise<RunResult> {
  const cells: Cell[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = rotate(targets, round - 1);
    for (const scenario of options.scenarios) {
      const closed = new Map<string, Cell>();
      const schedule: Schedule = { kind: "closed", concurrency: options.concurrency };
      for (const target of order) {
        const cell = await measureCell(options, target, scenario, round, schedule);
        closed.set(target.name, cell);
        cells.push(cell);
        progress(`round ${round}/${options.rounds} ${scenario} ${target.name} ${describe(cell)}`);
      }
      if (options.open.kind === "off") continue;
      for (const target of order) {
        const rate = openRate(options, target, closed);
        if (!(rate > 0)) {
          progress(`round ${round} ${scenario} ${target.name}: no open-loop rate (saturation 0)`);
          continue;
        }
        const cell = await measureCell(options, target, scenario, round, {
          kind: "open",
          rate,
          arrival: options.arrival,
          maxInFlight: options.maxInFlight,
        });
        cells.push(cell);
        progress(`round ${round}/${options.rounds} ${scenario} ${target.name} ${describe(cell)}`);
      }
    }
  }
  const idle: IdleResult[] = [];
  if (options.idleStreams > 0) {
    for (const target of targets) {
      const pid = target.pid;
      if (pid === undefined) {
        progress(`idle streams: ${target.name} skipped (PID unknown)`);
        continue;
      }
      const result = await measureIdle(options, { ...target, pid });
      idle.push(result);
      progress(
        `idle streams: ${target.name} ${result.answered}/${result.streams} open, RSS ${(result.baselineBytes / 2 ** 20).toFixed(0)} -> ${(result.openBytes / 2 ** 20).toFixed(0)} -> ${(result.afterBytes / 2 ** 20).toFixed(0)} MiB`,
      );
    }
  }
  return { cells, idle };
}
