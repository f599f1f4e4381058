/**
 * Steady load (`npm run fault:heavy -- steady`), not run in CI: the compiled processor (one worker)
 * at half of its saturation for FAULT_MINUTES (10), printing per minute the streams served, the
 * latency of streams and messages, errors, the process's RSS and its event-loop delay (p99 and
 * max over the minute, from its own /metrics): all must stay flat.
 * FAULT_SCENARIO (benign), FAULT_SERVER_CPUS / FAULT_CLIENT_CPUS as in `overload.ts`, FAULT_ENV
 * (`KEY=VALUE,...`: more environment for the processor, e.g. to compare a setting).
 */
import { Histogram } from "../../bench/histogram.ts";
import type { Schedule, WindowResult } from "../../bench/load.ts";
import { processTree, rssBytes } from "../../bench/proc.ts";
import { startProcessor } from "../../bench/targets.ts";
import { sampleValue } from "../../support/prometheus.ts";
import { startGenerators } from "./generators.ts";

const scenario = process.env.FAULT_SCENARIO ?? "benign";
const minutes = Number(process.env.FAULT_MINUTES ?? 10);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const target = await startProcessor({
  name: "aap",
  appsec: true,
  workers: 1,
  rules: undefined,
  env: Object.fromEntries(
    (process.env.FAULT_ENV ?? "")
      .split(",")
      .filter((pair) => pair.includes("="))
      .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
  ),
  cpus: process.env.FAULT_SERVER_CPUS,
});
const generators = await startGenerators(target, scenario);

/**
 * The event-loop delay since the previous scrape, p99 and max in ms: prom-client's default metrics
 * sample it natively and reset the histogram at each scrape.
 */
async function loopDelay(): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`http://127.0.0.1:${target.healthPort}/metrics`)).text();
  const read = (name: string) => (sampleValue(text, name, { worker: "0" }) ?? Number.NaN) * 1000;
  return {
    p99: read("nodejs_eventloop_lag_p99_seconds"),
    max: read("nodejs_eventloop_lag_max_seconds"),
  };
}

async function window(schedule: Schedule, ms: number): Promise<WindowResult[]> {
  await generators.run(schedule);
  await sleep(1000);
  await generators.mark();
  await sleep(ms);
  const parts = await generators.stop();
  await generators.drain(30_000);
  return parts;
}

try {
  const closed = await window({ kind: "closed", concurrency: 512 }, 5000);
  const saturation = closed.reduce((t, p) => t + p.streams / (p.elapsedMs / 1000), 0);
  const rate = saturation / 2;
  console.log(`saturation ${saturation.toFixed(0)} streams/s; open loop at ${rate.toFixed(0)}/s`);
  console.log(
    "| minute | served/s | stream p50 ms | stream p99 ms | msg p99 ms | shed | other errors | RSS MiB | loop delay p99 / max ms |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  await loopDelay(); // starts the first minute's histogram
  for (let minute = 1; minute <= minutes; minute++) {
    const parts = await window(
      { kind: "open", rate, arrival: "poisson", maxInFlight: 10_000 },
      60_000,
    );
    const stream = new Histogram();
    const message = new Histogram();
    for (const part of parts) {
      stream.merge(part.stream.data, part.stream.maxUs);
      message.merge(part.message.data, part.message.maxUs);
    }
    const served = parts.reduce((t, p) => t + p.streams / (p.elapsedMs / 1000), 0);
    const shed = parts.reduce((t, p) => t + p.shed, 0);
    const errors = parts.reduce((t, p) => t + p.errors, 0) - shed;
    const rss = target.pid === undefined ? 0 : rssBytes(processTree(target.pid));
    const delay = await loopDelay();
    console.log(
      `| ${minute} | ${served.toFixed(0)} | ${(stream.quantileUs(0.5) / 1000).toFixed(1)} | ${(stream.quantileUs(0.99) / 1000).toFixed(1)} | ${(message.quantileUs(0.99) / 1000).toFixed(1)} | ${shed} | ${errors} | ${(rss / 2 ** 20).toFixed(0)} | ${delay.p99.toFixed(1)} / ${delay.max.toFixed(1)} |`,
    );
  }
} finally {
  await generators.exit();
  await target.stop();
}
