/**
 * Child-process driver for the dd-trace component tests (dd-trace is process-global: one init per
 * process). Configured by the processor's environment variables (DD_TRACE_AGENT_PORT, ...), it
 * starts the real tracer with `createTracer`, plays the mode given on argv and exits after
 * flushing. It writes one JSON object per line on stdout.
 *
 *   node tracing-driver.ts scenarios <marker>     every tracing scenario once
 *   node tracing-driver.ts sequence <marker> <names...>   the named scenarios, in order
 *   node tracing-driver.ts autoinstr <marker>     http/http2/fetch traffic + one manual span
 *   node tracing-driver.ts agent-down <marker> <n>  2n streams (warm-up, measured), waits for
 *                                                 "up" on stdin, n more
 */
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { loadConfig } from "../../processor/config/index.ts";
import { createLogger } from "../../processor/log.ts";
import { createTracer, type ExchangeTracer } from "../../processor/tracing/index.ts";
import { tracerOptions } from "../../processor/wiring.ts";
import {
  type ContextScenarioName,
  request,
  run,
  SCENARIO_NAMES,
  type ScenarioName,
  scenarios,
  type TracingScenario,
} from "./tracing-scenarios.ts";

const [mode = "scenarios", marker = "m", ...rest] = process.argv.slice(2);
const out = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const logs: Array<Record<string, unknown>> = [];
const log = createLogger({
  level: "debug",
  component: "tracing",
  sink: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
});
const loaded = loadConfig(process.env);
if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
const flushIntervalMs = Number(process.env.DRIVER_FLUSH_INTERVAL_MS ?? "100");
const tracer = createTracer(tracerOptions(loaded.value.config), log, { flushIntervalMs });

/** Plays one scenario the way the pipeline would: RH run, propagation, later runs, finish. */
function play(name: string, scenario: TracingScenario, t: ExchangeTracer = tracer) {
  const span = t.startSpan(scenario.start);
  const [first, ...later] = scenario.runs;
  if (first !== undefined) span.noteWaf(first);
  const propagation = span.propagationHeaders();
  for (const result of later) span.noteWaf(result);
  if (process.env.DRIVER_SAMPLE_SCHEMA === "1") {
    span.shouldSampleSchema(scenario.end.blockedBy?.status ?? scenario.end.response?.status ?? 200);
  }
  span.finish(scenario.end);
  out({ scenario: name, propagation });
}

async function autoInstrumentation(): Promise<void> {
  // Loaded after dd-trace started and through require, the path dd-trace hooks.
  const require = createRequire(import.meta.url);
  const http = require("node:http") as typeof import("node:http");
  const http2 = require("node:http2") as typeof import("node:http2");
  const h1 = http.createServer((_req, res) => res.end("ok"));
  const h2 = http2.createServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => h1.listen(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
  const h1Port = (h1.address() as AddressInfo).port;
  const h2Port = (h2.address() as AddressInfo).port;
  await new Promise<void>((resolve, reject) => {
    http
      .get(`http://127.0.0.1:${h1Port}/h1`, (res) => res.resume().on("end", resolve))
      .on("error", reject);
  });
  await fetch(`http://127.0.0.1:${h1Port}/fetch`).then((res) => res.text());
  await new Promise<void>((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${h2Port}`);
    const stream = session.request({ ":path": "/h2" });
    stream.on("error", reject);
    stream.resume();
    stream.on("end", () => {
      session.close();
      resolve();
    });
  });
  h1.close();
  h2.close();
  play("manual", scenarios(marker).benign);
  out({ requests: 4 });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

/** n streams (benign and monitored alternately); the cost of startSpan and finish, in µs. */
async function streams(n: number, phase: string): Promise<void> {
  const start: number[] = [];
  const finish: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const attack = i % 2 === 1;
    const headers = { "user-agent": attack ? "dd-test-scanner-log" : "Mozilla/5.0" };
    const t0 = performance.now();
    const span = tracer.startSpan({
      integration: "envoy",
      request: request("GET", `/${phase}/${i}?m=${marker}`, headers),
    });
    const t1 = performance.now();
    span.noteWaf(run(attack ? { events: [{ rule: { id: "ua0-600-55x" } }], keep: true } : {}));
    span.propagationHeaders();
    const t2 = performance.now();
    span.finish({
      outcome: "complete",
      response: { status: 200, headers: {} },
      observabilityMode: false,
      wafVersion: "1.30.1",
      rulesVersion: "1.18.0",
      wafTimeouts: 0,
      wafDurationUs: 40,
    });
    const t3 = performance.now();
    start.push((t1 - t0) * 1000);
    finish.push((t3 - t2) * 1000);
    total.push((t3 - t0) * 1000);
    // Let the exporter's timers and sockets run between streams, as a server would.
    if (i % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
  }
  const stats = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0 };
  };
  out({ phase, n, startSpanUs: stats(start), finishUs: stats(finish), totalUs: stats(total) });
}

async function agentDown(n: number): Promise<void> {
  // Warm the JIT first, so the two measured phases compare like with like.
  await streams(n, "warmup");
  await streams(n, "down");
  // Give the exporter a few flush intervals against the closed port.
  await new Promise((resolve) => setTimeout(resolve, flushIntervalMs * 5));
  out({ waiting: "up" });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === "up") break;
  lines.close();
  await streams(n, "up");
}

async function main(): Promise<void> {
  const all = scenarios(marker);
  if (mode === "scenarios") {
    for (const name of SCENARIO_NAMES) play(name, all[name]);
  } else if (mode === "sequence") {
    for (const name of rest) play(name, all[name as ScenarioName | ContextScenarioName]);
  } else if (mode === "autoinstr") {
    await autoInstrumentation();
  } else if (mode === "agent-down") {
    await agentDown(Number(rest[0] ?? "500"));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  // Let the last spans reach the exporter's buffer, then flush.
  await new Promise((resolve) => setTimeout(resolve, flushIntervalMs * 2));
  await tracer.shutdown(3000);
  out({ done: true, logs });
  process.exit(0);
}

main().catch((cause: unknown) => {
  process.stderr.write(`${String(cause instanceof Error ? cause.stack : cause)}\n`);
  process.exit(1);
});
