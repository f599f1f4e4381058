/**
 * The run's report: the machine and versions, then one table each for saturation, open-loop
 * latency, ratios and idle-stream memory, then the warnings; or all of it as one JSON document.
 */
import { execFileSync } from "node:child_process";
import { availableParallelism, cpus, release, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import type { IdleResult } from "./measure.ts";
import type { Options } from "./options.ts";
import type { RunResult } from "./runner.ts";
import { type Ratio, ratios, type Summary, summarizeAll, warnings } from "./summary.ts";
import type { Target } from "./targets.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Where the numbers come from. */
export interface Machine {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly availableCpus: number;
  readonly memoryBytes: number;
  readonly kernel: string;
  readonly node: string;
  /** The repository's commit, `+dirty` when processor/ has uncommitted changes. */
  readonly commit: string;
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: "pipe" }).trim();
  } catch {
    return "";
  }
}

/** Reads the machine's description. */
export function machine(): Machine {
  const commit = git(["rev-parse", "--short", "HEAD"]);
  const dirty = git(["status", "--porcelain", "--", "processor"]) !== "";
  return {
    cpuModel: cpus()[0]?.model ?? "unknown",
    cpus: cpus().length,
    availableCpus: availableParallelism(),
    memoryBytes: totalmem(),
    kernel: `${process.platform} ${release()}`,
    node: process.version,
    commit: commit === "" ? "unknown" : `${commit}${dirty ? "+dirty" : ""}`,
  };
}

/** Everything the report holds, as the JSON output gives it. */
export interface Report {
  readonly date: string;
  readonly machine: Machine;
  readonly options: Options;
  readonly targets: ReadonlyArray<Omit<Target, "stop">>;
  readonly summaries: Summary[];
  readonly ratios: Ratio[];
  readonly idle: IdleResult[];
  readonly warnings: string[];
  readonly cells: RunResult["cells"];
}

/** Builds the report of a run on `host` (read before any pinning narrowed what this process sees). */
export function buildReport(
  host: Machine,
  options: Options,
  targets: readonly Target[],
  run: RunResult,
): Report {
  const names = targets.map((target) => target.name);
  const summaries = summarizeAll(run.cells, options.scenarios, names);
  const floors = targets.filter((t) => t.kind === "floor").map((t) => t.name);
  return {
    date: new Date().toISOString(),
    machine: host,
    options,
    targets: targets.map(({ stop: _, ...target }) => target),
    summaries,
    ratios: ratios(summaries, names),
    idle: run.idle,
    warnings: warnings(summaries, floors),
    cells: run.cells,
  };
}

const MIB = 2 ** 20;
const dash = "-";
const int = (v: number | undefined) =>
  v === undefined ? dash : v.toLocaleString("en-US", { maximumFractionDigits: 0 });
const fixed = (digits: number) => (v: number | undefined) =>
  v === undefined ? dash : v.toFixed(digits);
const ms = (v: number | undefined) =>
  v === undefined ? dash : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0);
const mib = (v: number | undefined) => (v === undefined ? dash : (v / MIB).toFixed(0));
const times = (v: number | undefined) => (v === undefined ? dash : `${v.toFixed(2)}x`);

/** An aligned Markdown table; the first `left` columns align left, the rest right. */
export function table(headers: string[], rows: string[][], left = 2): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i < left ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i < left ? `${"-".repeat(w + 1)}-` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

function describeTarget(target: Omit<Target, "stop">, options: Options, commit: string): string {
  const where = `${target.address}, pid ${target.pid ?? "unknown"}`;
  if (target.kind === "peer") return `${target.name}: peer at ${where}, version ${target.version}`;
  const what =
    target.kind === "floor" ? "this processor with DD_APPSEC_ENABLED=false" : "this processor";
  const workers = `${options.workers} worker${options.workers === 1 ? "" : "s"}`;
  return `${target.name}: ${what} ${target.version} (${commit}), ${workers}, ${where}`;
}

function header(report: Report): string[] {
  const { machine: m, options: o } = report;
  const open =
    o.open.kind === "off"
      ? "off"
      : o.open.kind === "fixed"
        ? `${o.open.rate} streams/s`
        : `${o.open.fraction * 100}% of ${o.open.of === undefined ? "each target's own" : `${o.open.of}'s`} saturation`;
  return [
    `aap-extproc bench, ${report.date}`,
    `machine: ${m.cpuModel}, ${m.cpus} CPUs (${m.availableCpus} available), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${m.kernel}; Node ${m.node}`,
    ...report.targets.map((t) => `target ${describeTarget(t, o, m.commit)}`),
    `load: ${o.concurrency} streams in flight over ${o.connections} HTTP/2 connections, ${o.generators} generator process${o.generators === 1 ? "" : "es"}; ` +
      `${o.warmupMs / 1000} s warm-up + ${o.durationMs / 1000} s closed loop, ${o.openDurationMs / 1000} s open loop at ${open} (${o.arrival}); ` +
      `median of ${o.rounds} round${o.rounds === 1 ? "" : "s"}; server CPUs ${o.serverCpus ?? "not pinned"}, client CPUs ${o.clientCpus ?? "not pinned"}`,
  ];
}

function saturation(summaries: Summary[]): string {
  const rows = summaries.map((s) => [
    s.scenario,
    s.target,
    int(s.streamsPerS),
    fixed(3)(s.serverCpuPer1k),
    fixed(3)(s.generatorCpuPer1k),
    mib(s.peakRssBytes),
    int(s.streams),
    int(s.blocked),
    int(s.errors),
  ]);
  const headers = ["scenario", "target", "streams/s", "CPU s/1k", "gen CPU s/1k", "peak RSS MiB"];
  return table([...headers, "streams", "blocked", "errors"], rows);
}

function latency(summaries: Summary[]): string {
  const rows = summaries.map((s) => [
    s.scenario,
    s.target,
    int(s.openRate),
    int(s.openPerS),
    ms(s.message?.p50),
    ms(s.message?.p99),
    ms(s.message?.p999),
    ms(s.stream?.p50),
    ms(s.stream?.p99),
    ms(s.stream?.p999),
    s.shedShare === undefined ? dash : `${(s.shedShare * 100).toFixed(1)}%`,
  ]);
  const headers = ["scenario", "target", "rate/s", "done/s", "msg p50", "msg p99", "msg p99.9"];
  return table([...headers, "stream p50", "stream p99", "stream p99.9", "shed"], rows);
}

function ratioTable(rows: Ratio[]): string {
  return table(
    ["scenario", "vs", "streams/s", "stream p99", "CPU s/1k", "peak RSS"],
    rows.map((r) => [
      r.scenario,
      `${r.target} / ${r.against}`,
      times(r.streamsPerS),
      times(r.streamP99),
      times(r.serverCpuPer1k),
      times(r.peakRss),
    ]),
  );
}

function idleTable(rows: IdleResult[]): string {
  return table(
    ["target", "open", "RSS before MiB", "with streams MiB", "KiB/stream", "after MiB"],
    rows.map((r) => [
      r.target,
      `${int(r.answered)}/${int(r.streams)}`,
      mib(r.baselineBytes),
      mib(r.openBytes),
      r.answered === 0 ? dash : ((r.openBytes - r.baselineBytes) / r.answered / 1024).toFixed(1),
      mib(r.afterBytes),
    ]),
    1,
  );
}

/** How the generator's CPU per stream compares with each target's, over the scenarios. */
function generatorShare(summaries: Summary[]): string {
  const shares = new Map<string, number[]>();
  for (const s of summaries) {
    if (s.serverCpuPer1k === undefined || s.generatorCpuPer1k === undefined) continue;
    const list = shares.get(s.target) ?? [];
    list.push((s.generatorCpuPer1k / s.serverCpuPer1k) * 100);
    shares.set(s.target, list);
  }
  const parts = [...shares].map(([target, list]) => {
    const low = Math.min(...list).toFixed(0);
    const high = Math.max(...list).toFixed(0);
    return `${target} ${low === high ? low : `${low}-${high}`}%`;
  });
  return parts.length === 0
    ? ""
    : `\n\nThe load generator spent this share of each server's CPU per stream: ${parts.join(", ")}.`;
}

/** The report as text. */
export function formatReport(report: Report): string {
  const o = report.options;
  const sections = [
    header(report).join("\n"),
    `Saturation (closed loop; CPU seconds per 1,000 streams: server process tree, load generator)\n\n${saturation(report.summaries)}${generatorShare(report.summaries)}`,
  ];
  if (o.open.kind !== "off") {
    sections.push(
      `Latency in ms, open loop (message: send to reply; stream: scheduled start to end, of the streams served; shed: streams refused by load shedding)\n\n${latency(report.summaries)}`,
    );
  }
  if (report.ratios.length > 0) sections.push(`Ratios\n\n${ratioTable(report.ratios)}`);
  if (report.idle.length > 0) {
    const after = (report.idle[0]?.afterMs ?? 0) / 1000;
    sections.push(
      `Idle streams (POST headers sent, body never sent; "after": ${after} s after they were cancelled)\n\n${idleTable(report.idle)}`,
    );
  }
  sections.push(
    report.warnings.length === 0
      ? "No errors, no blocked benign requests."
      : report.warnings.map((w) => `!! ${w}`).join("\n"),
  );
  return `${sections.join("\n\n")}\n`;
}
