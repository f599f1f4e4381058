/**
 * Overload and recovery (`npm run fault:heavy -- overload`), not run in CI: the compiled processor
 * (one worker) under the bench's load generator. Saturation is measured first (closed loop, load
 * shedding off); then, for shedding on (the default) and off, in turns: an open loop at 150% of that
 * saturation, then one at 50% (recovery). Prints what Envoy would see: streams served per second,
 * the share refused (shed) and how fast, the latency of the streams served, other errors.
 *
 * Options (environment): FAULT_SCENARIO (benign), FAULT_SECONDS (10 per phase), FAULT_ROUNDS (2),
 * FAULT_SATURATION (streams/s: skip the measurement, e.g. when neighbours make it unreliable),
 * FAULT_SHED_DELAY (DD_SERVICE_EXTENSION_SHED_QUEUE_DELAY of the shedding target; its default),
 * FAULT_OVERLOAD (1.5: the overload phase's rate as a multiple of saturation),
 * FAULT_TIMEOUT_MS (200: Envoy's message timeout in the chart, for the "in time" column),
 * FAULT_NODE_OPTIONS (NODE_OPTIONS of the processors, e.g. `--import ./probe.mjs`),
 * FAULT_SERVER_CPUS / FAULT_CLIENT_CPUS (taskset lists, e.g. 0 and 1: one core each).
 */
import { Histogram } from "../../bench/histogram.ts";
import type { Schedule, WindowResult } from "../../bench/load.ts";
import { cpuSeconds, processTree } from "../../bench/proc.ts";
import { startProcessor, type Target } from "../../bench/targets.ts";
import { startGenerators } from "./generators.ts";

const scenario = process.env.FAULT_SCENARIO ?? "benign";
const seconds = Number(process.env.FAULT_SECONDS ?? 10);
const rounds = Number(process.env.FAULT_ROUNDS ?? 2);
const serverCpus = process.env.FAULT_SERVER_CPUS;
const timeoutMs = Number(process.env.FAULT_TIMEOUT_MS ?? 200);
const overload = Number(process.env.FAULT_OVERLOAD ?? 1.5);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function start(shedding: boolean, env: Record<string, string> = {}): Promise<Target> {
  return startProcessor({
    name: shedding ? "shedding" : "no-shedding",
    appsec: true,
    workers: 1,
    rules: undefined,
    env: {
      ...(process.env.FAULT_NODE_OPTIONS ? { NODE_OPTIONS: process.env.FAULT_NODE_OPTIONS } : {}),
      DD_SERVICE_EXTENSION_SHED_QUEUE_DELAY: shedding ? (process.env.FAULT_SHED_DELAY ?? "") : "0",
      ...env,
    },
    cpus: serverCpus,
  });
}

/** Runs `schedule` on `target`: 1 s warm-up, `durationMs` measured; returns the merged window. */
async function phase(target: Target, schedule: Schedule, durationMs: number) {
  const generators = await startGenerators(target, scenario);
  try {
    await generators.run(schedule);
    await sleep(1000);
    const tree = target.pid === undefined ? [] : processTree(target.pid);
    const cpuBefore = cpuSeconds(tree);
    await generators.mark();
    await sleep(durationMs);
    const parts = await generators.stop();
    const cpuS = cpuSeconds(tree) - cpuBefore;
    await generators.drain(30_000);
    return { ...summarize(parts), cpuS };
  } finally {
    await generators.exit();
  }
}

function summarize(parts: WindowResult[]) {
  const served = new Histogram();
  const shed = new Histogram();
  for (const part of parts) {
    served.merge(part.stream.data, part.stream.maxUs);
    shed.merge(part.shedLatency.data, part.shedLatency.maxUs);
  }
  const sum = (pick: (part: WindowResult) => number) => parts.reduce((t, p) => t + pick(p), 0);
  const elapsedS = (parts[0]?.elapsedMs ?? 1) / 1000;
  const streams = sum((p) => p.streams);
  const shedCount = sum((p) => p.shed);
  const errors = sum((p) => p.errors) - shedCount;
  return {
    servedPerS: streams / elapsedS,
    // What Envoy would have used: a stream ended within one message timeout had every message in
    // time (the rest Envoy would have given up on, as on a refusal, only later).
    inTimePerS: served.countAtMost(timeoutMs * 1000) / elapsedS,
    served: streams,
    shed: shedCount,
    shedShare: shedCount / Math.max(1, streams + shedCount + errors),
    shedP99Ms: shed.quantileUs(0.99) / 1000,
    p50Ms: served.quantileUs(0.5) / 1000,
    p99Ms: served.quantileUs(0.99) / 1000,
    errors,
    /** The load generator's CPU use, in cores: near 1, its numbers are bounded by the client. */
    clientCores: sum((p) => p.cpuUs) / 1e6 / elapsedS,
    firstError: parts.find((p) => p.firstError !== "")?.firstError ?? "",
  };
}

/**
 * Streams in flight while measuring saturation: enough that the server never waits for the client
 * (64 measured a third below what the same process served in open loop).
 */
const SATURATION_CONCURRENCY = 512;

const rows: string[][] = [];
const reference = await start(false);
let saturation: number;
let servedCpuMs: number;
try {
  const closed = await phase(
    reference,
    { kind: "closed", concurrency: SATURATION_CONCURRENCY },
    seconds * 500,
  );
  saturation = Number(process.env.FAULT_SATURATION ?? closed.servedPerS);
  servedCpuMs = (closed.cpuS / Math.max(1, closed.served)) * 1000;
} finally {
  await reference.stop();
}
console.log(
  `saturation (closed loop, ${SATURATION_CONCURRENCY} in flight, shedding off): ${saturation.toFixed(0)} streams/s${process.env.FAULT_SATURATION ? " (given)" : ""}, ${servedCpuMs.toFixed(3)} ms of server CPU per stream`,
);
// What a refusal costs the server: with one stream allowed open, nearly all are refused.
const refusing = await start(true, { DD_SERVICE_EXTENSION_MAX_OPEN_STREAMS: "1" });
try {
  const refused = await phase(refusing, { kind: "closed", concurrency: 64 }, seconds * 500);
  const refusalCpuMs = (refused.cpuS / Math.max(1, refused.shed + refused.served)) * 1000;
  console.log(
    `refusals (closed loop, nearly all refused): ${refused.shed} refused, ${refused.served} served, ${refusalCpuMs.toFixed(3)} ms of server CPU per stream (${((refusalCpuMs / servedCpuMs) * 100).toFixed(0)}% of a served stream)`,
  );
} finally {
  await refusing.stop();
}

for (let round = 1; round <= rounds; round++) {
  for (const shedding of [true, false]) {
    const target = await start(shedding);
    try {
      for (const [label, fraction] of [
        [`${Math.round(overload * 100)}%`, overload],
        ["50% after", 0.5],
      ] as const) {
        const rate = saturation * fraction;
        const result = await phase(
          target,
          { kind: "open", rate, arrival: "poisson", maxInFlight: 10_000 },
          seconds * 1000,
        );
        rows.push([
          String(round),
          target.name,
          label,
          rate.toFixed(0),
          result.servedPerS.toFixed(0),
          result.inTimePerS.toFixed(0),
          `${(result.shedShare * 100).toFixed(1)}%`,
          result.shedP99Ms.toFixed(1),
          result.p50Ms.toFixed(1),
          result.p99Ms.toFixed(1),
          String(result.errors),
          result.clientCores.toFixed(2),
          (result.cpuS / seconds).toFixed(2),
        ]);
        console.error(
          `round ${round} ${target.name} ${label}: ${rows.at(-1)?.join(" | ")} ${result.firstError}`,
        );
      }
    } finally {
      await target.stop();
    }
  }
}

const headers = [
  "round",
  "target",
  "phase",
  "rate/s",
  "served/s",
  `in ${timeoutMs} ms/s`,
  "shed",
  "shed p99 ms",
  "served p50 ms",
  "served p99 ms",
  "other errors",
  "client cores",
  "server cores",
];
console.log(`| ${headers.join(" | ")} |`);
console.log(`|${headers.map(() => "---").join("|")}|`);
for (const row of rows) console.log(`| ${row.join(" | ")} |`);
