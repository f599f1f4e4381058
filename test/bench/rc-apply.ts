/**
 * Benchmark (not a test): the pause a Remote Configuration update causes under load.
 *
 * Starts the processor (from source, `--workers` worker processes) against a fake Agent, drives
 * an open loop of header-only streams at `--rate` streams/s, and every few seconds serves a new
 * 12,500-entry IP denylist. Prints stream latency (counted from each stream's scheduled start,
 * so a stalled processor shows as queueing) before any update and in the window around each
 * update, and the time libddwaf took to apply it, as the processor logs it.
 *
 *   source .ci/env.sh
 *   npm run bench:rc                           # 1 worker, 200 streams/s, 3 updates
 *   npm run bench:rc -- --workers 2 --rate 400 --updates 5
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { startFakeAgent } from "../support/fake-agent.ts";
import { type Client, createClient, exchange, openStream } from "../support/grpc-client.ts";
import { getHeaders, kindOf, requestHeaders, responseHeaders } from "../support/messages.ts";
import { startProcessor } from "../support/processor-process.ts";
import { blockedIps } from "../support/rc-payloads.ts";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "200" },
    updates: { type: "string", default: "3" },
    workers: { type: "string", default: "1" },
    entries: { type: "string", default: "12500" },
    connections: { type: "string", default: "4" },
  },
});
const rate = Number(values.rate);
const updates = Number(values.updates);
const entries = Number(values.entries);
const POLL_SECONDS = 0.5;
const PATH = "datadog/2/ASM_DATA/bench/config";

/** `count` IPs; `salt` makes each update a different file. */
function denylist(count: number, salt: number) {
  return Array.from({ length: count }, (_, i) => ({
    value: `10.${salt % 200}.${(i >> 8) & 255}.${i & 255}`,
    expiration: 0,
  }));
}

interface Sample {
  scheduledAt: number;
  latencyMs: number;
}

async function oneStream(client: Client): Promise<void> {
  const stream = openStream(client);
  const reply = await exchange(stream, requestHeaders(getHeaders("/bench"), true));
  if (kindOf(reply) === "requestHeaders") {
    await exchange(stream, responseHeaders({ ":status": "200" }, true));
  }
  await stream.status;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function row(label: string, samples: Sample[]): string {
  const sorted = samples.map((s) => s.latencyMs).sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(1).padStart(8);
  return `${label.padEnd(26)} ${String(sorted.length).padStart(7)} ${f(percentile(sorted, 50))} ${f(percentile(sorted, 99))} ${f(sorted.at(-1) ?? Number.NaN)}`;
}

const agent = await startFakeAgent();
const processor = await startProcessor({
  DD_SERVICE_EXTENSION_TLS: "false",
  DD_SERVICE_EXTENSION_WORKERS: values.workers,
  DD_TRACE_AGENT_URL: agent.url,
  DD_REMOTE_CONFIG_POLL_INTERVAL_SECONDS: String(POLL_SECONDS),
});
const clients = Array.from({ length: Number(values.connections) }, () =>
  createClient(`127.0.0.1:${processor.grpcPort}`),
);
const samples: Sample[] = [];
let running = true;
let failures = 0;

// Open loop: streams start on schedule whatever the processor's pace.
const load = (async () => {
  const start = performance.now();
  for (let i = 0; running; i++) {
    const scheduledAt = start + (i * 1000) / rate;
    const wait = scheduledAt - performance.now();
    if (wait > 0) await sleep(wait);
    const client = clients[i % clients.length] as Client;
    oneStream(client).then(
      () => samples.push({ scheduledAt, latencyMs: performance.now() - scheduledAt }),
      () => {
        failures += 1;
      },
    );
  }
})();

await sleep(1000); // warm-up
const baselineFrom = performance.now();
await sleep(4000);
const baselineTo = performance.now();
const windows: Array<{ from: number; to: number }> = [];
for (let u = 1; u <= updates; u++) {
  const from = performance.now();
  const acked = agent.waitForRcRequest(
    (r) =>
      r.client.state.config_states.some(
        (s) => s.id === "bench" && s.apply_state === 2 && s.version === u,
      ),
    30_000,
  );
  agent.serveRemoteConfig([{ path: PATH, content: blockedIps(denylist(entries, u)), version: u }]);
  await acked;
  // The apply happened between the poll that fetched it and this one; keep a margin after.
  await sleep(500);
  windows.push({ from, to: performance.now() });
  await sleep(2500);
}
running = false;
await load;
await sleep(500);

const inWindow = (s: Sample) =>
  windows.some((w) => s.scheduledAt >= w.from && s.scheduledAt <= w.to);
const applyTimes = processor.logs
  .filter((l) => l.msg === "WAF configuration updated")
  .map((l) => Number(l.durationMs));
console.log(
  `Remote Configuration apply under load: ${entries} IPs, ${updates} updates, ${rate} streams/s, ${values.workers} worker(s), poll ${POLL_SECONDS}s`,
);
console.log(
  `${"window".padEnd(26)} ${"streams".padStart(7)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"max ms".padStart(8)}`,
);
console.log(
  row(
    "before any update",
    samples.filter((s) => s.scheduledAt >= baselineFrom && s.scheduledAt < baselineTo),
  ),
);
console.log(row("around each update", samples.filter(inWindow)));
console.log(
  `libddwaf apply time per process (ms, from the processor's logs): ${applyTimes.map((t) => t.toFixed(1)).join(", ")}`,
);
console.log(`failed streams: ${failures}`);

for (const client of clients) client.close();
processor.kill("SIGTERM");
await processor.exited;
await agent.stop();
