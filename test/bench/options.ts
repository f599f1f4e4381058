/**
 * The bench's command line, parsed once into a frozen `Options` or the list of what is wrong.
 * `USAGE` is the help text; test/bench/README.md explains each option at more length.
 */
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { SCENARIOS } from "./scenarios.ts";
import type { PeerSpec } from "./targets.ts";

/** The name of this processor's target in the report. */
export const PROCESSOR_NAME = "aap";
/** The name of the no-op floor's target. */
export const FLOOR_NAME = "floor";

/** Everything a run needs to know. */
export interface Options {
  readonly scenarios: readonly string[];
  readonly rounds: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly openDurationMs: number;
  readonly concurrency: number;
  readonly connections: number;
  readonly generators: number;
  /** Open loop rate: fixed, or a fraction of a target's saturation (its own, or a named one's). */
  readonly open:
    | { readonly kind: "off" }
    | { readonly kind: "fixed"; readonly rate: number }
    | { readonly kind: "fraction"; readonly fraction: number; readonly of: string | undefined };
  readonly arrival: "poisson" | "uniform";
  readonly maxInFlight: number;
  readonly idleStreams: number;
  readonly idleWaitMs: number;
  readonly processor: boolean;
  readonly floor: boolean;
  readonly peers: readonly PeerSpec[];
  readonly workers: number;
  readonly rules: string | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly serverCpus: string | undefined;
  readonly clientCpus: string | undefined;
  readonly chunkSize: number;
  readonly timeoutMs: number;
  readonly verifyReplies: number;
  readonly json: boolean;
  readonly help: boolean;
}

/** The help text. */
export const USAGE = `usage: npm run bench -- [options]

Targets (measured in turns, in the same run):
  --no-self                 do not start this processor (name "${PROCESSOR_NAME}")
  --floor                   also start it with DD_APPSEC_ENABLED=false (name "${FLOOR_NAME}")
  --peer NAME=HOST:PORT[,pid=PID][,health=PORT]
                            another ext_proc server already running (repeatable); CPU and memory
                            are read for PID's process tree (found from the port when not given)
  --workers N               DD_SERVICE_EXTENSION_WORKERS for this processor (1)
  --rules FILE              DD_APPSEC_RULES for this processor
  --env KEY=VALUE           more environment for this processor and the floor (repeatable)
Load:
  --scenarios LIST          ${SCENARIOS.map((s) => s.name).join(",")} (all)
  --rounds N                rounds of every cell; the median is reported (3)
  --warmup S  --duration S  seconds of warm-up and of measurement per closed-loop cell (1, 5)
  --open-duration S         seconds of measurement per open-loop cell (as --duration)
  --concurrency N           streams in flight in the closed loop (64)
  --connections N           HTTP/2 connections (4)
  --generators N            load generator processes sharing the connections (1)
  --open-fraction F         open-loop rate as a fraction of the saturation rate (0.5)
  --open-rate-of NAME       ... of target NAME's saturation (default: each target's own)
  --open-rate R             open-loop rate in streams/s instead
  --no-open                 skip the open-loop runs
  --arrival poisson|uniform open-loop arrivals (poisson)
  --max-in-flight N         open loop: streams beyond this wait, their latency counting (10000)
  --idle-streams N          idle open streams for the memory measurement, 0 to skip (10000)
  --idle-wait S             seconds after cancelling them before RSS is read again (10)
  --chunk-size BYTES        STREAMED body chunk size (16384)
  --timeout S               a stream open longer than this is an error (5)
  --verify N                replies per cell also decoded in full and checked (1000)
Machine:
  --server-cpus LIST        pin servers (all threads, all processes) with taskset, e.g. 0
  --client-cpus LIST        pin the generators and the bench itself, e.g. 1
Output:
  --json                    one JSON document on stdout instead of the tables
  --help`;

function int(name: string, value: string, min: number, errors: string[]): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) errors.push(`--${name}: an integer >= ${min}`);
  return parsed;
}

function seconds(name: string, value: string, errors: string[]): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) errors.push(`--${name}: seconds > 0`);
  return Math.round(parsed * 1000);
}

/** Parses `NAME=HOST:PORT[,pid=PID][,health=PORT]`. */
export function parsePeer(text: string): PeerSpec | string {
  const match = /^([\w.-]+)=([^:,]+):(\d+)((?:,(?:pid|health)=\d+)*)$/.exec(text);
  if (!match) return `--peer ${text}: expected NAME=HOST:PORT[,pid=PID][,health=PORT]`;
  const [, name = "", host = "", port = "", rest = ""] = match;
  const extra = Object.fromEntries(
    rest
      .split(",")
      .filter(Boolean)
      .map((pair) => pair.split("=")),
  ) as { pid?: string; health?: string };
  return {
    name,
    host,
    port: Number(port),
    ...(extra.pid === undefined ? {} : { pid: Number(extra.pid) }),
    ...(extra.health === undefined ? {} : { healthPort: Number(extra.health) }),
  };
}

const SPEC = {
  self: { type: "boolean", default: true },
  floor: { type: "boolean", default: false },
  peer: { type: "string", multiple: true, default: [] as string[] },
  workers: { type: "string", default: "1" },
  rules: { type: "string" },
  env: { type: "string", multiple: true, default: [] as string[] },
  scenarios: { type: "string", default: SCENARIOS.map((s) => s.name).join(",") },
  rounds: { type: "string", default: "3" },
  warmup: { type: "string", default: "1" },
  duration: { type: "string", default: "5" },
  "open-duration": { type: "string" },
  concurrency: { type: "string", default: "64" },
  connections: { type: "string", default: "4" },
  generators: { type: "string", default: "1" },
  "open-fraction": { type: "string", default: "0.5" },
  "open-rate-of": { type: "string" },
  "open-rate": { type: "string" },
  open: { type: "boolean", default: true },
  arrival: { type: "string", default: "poisson" },
  "max-in-flight": { type: "string", default: "10000" },
  "idle-streams": { type: "string", default: "10000" },
  "idle-wait": { type: "string", default: "10" },
  "chunk-size": { type: "string", default: "16384" },
  timeout: { type: "string", default: "5" },
  verify: { type: "string", default: "1000" },
  "server-cpus": { type: "string" },
  "client-cpus": { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} satisfies ParseArgsOptionsConfig;

/** Parses the command line (without node and the script). */
export function parseOptions(args: string[]): { ok: Options } | { errors: string[] } {
  let values: ReturnType<typeof parseArgs<{ options: typeof SPEC; allowNegative: true }>>["values"];
  try {
    ({ values } = parseArgs({ args, options: SPEC, allowNegative: true, strict: true }));
  } catch (error) {
    return { errors: [error instanceof Error ? error.message : String(error)] };
  }
  const errors: string[] = [];
  const scenarios = values.scenarios.split(",").filter(Boolean);
  for (const name of scenarios) {
    if (!SCENARIOS.some((s) => s.name === name)) errors.push(`--scenarios: unknown ${name}`);
  }
  const peers: PeerSpec[] = [];
  for (const text of values.peer) {
    const peer = parsePeer(text);
    if (typeof peer === "string") errors.push(peer);
    else peers.push(peer);
  }
  const names = [
    ...(values.self ? [PROCESSOR_NAME] : []),
    ...(values.floor ? [FLOOR_NAME] : []),
    ...peers.map((peer) => peer.name),
  ];
  if (new Set(names).size !== names.length) errors.push(`target names repeat: ${names.join(", ")}`);
  if (names.length === 0) errors.push("no target: give --peer, or drop --no-self");
  const env: Record<string, string> = {};
  for (const pair of values.env) {
    const at = pair.indexOf("=");
    if (at <= 0) errors.push(`--env ${pair}: expected KEY=VALUE`);
    else env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const of = values["open-rate-of"];
  if (of !== undefined && !names.includes(of)) errors.push(`--open-rate-of: no target ${of}`);
  const fraction = Number(values["open-fraction"]);
  if (!(fraction > 0)) errors.push("--open-fraction: a number > 0");
  const rate = values["open-rate"];
  if (rate !== undefined && !(Number(rate) > 0)) errors.push("--open-rate: streams/s > 0");
  const arrival = values.arrival;
  if (arrival !== "poisson" && arrival !== "uniform") errors.push("--arrival: poisson or uniform");
  const durationMs = seconds("duration", values.duration, errors);
  const options: Options = {
    scenarios,
    rounds: int("rounds", values.rounds, 1, errors),
    warmupMs: seconds("warmup", values.warmup, errors),
    durationMs,
    openDurationMs:
      values["open-duration"] === undefined
        ? durationMs
        : seconds("open-duration", values["open-duration"], errors),
    concurrency: int("concurrency", values.concurrency, 1, errors),
    connections: int("connections", values.connections, 1, errors),
    generators: int("generators", values.generators, 1, errors),
    open: !values.open
      ? { kind: "off" }
      : rate !== undefined
        ? { kind: "fixed", rate: Number(rate) }
        : { kind: "fraction", fraction, of },
    arrival: arrival === "uniform" ? "uniform" : "poisson",
    maxInFlight: int("max-in-flight", values["max-in-flight"], 1, errors),
    idleStreams: int("idle-streams", values["idle-streams"], 0, errors),
    idleWaitMs: seconds("idle-wait", values["idle-wait"], errors),
    processor: values.self,
    floor: values.floor,
    peers,
    workers: int("workers", values.workers, 1, errors),
    rules: values.rules,
    env,
    serverCpus: values["server-cpus"],
    clientCpus: values["client-cpus"],
    chunkSize: int("chunk-size", values["chunk-size"], 1, errors),
    timeoutMs: seconds("timeout", values.timeout, errors),
    verifyReplies: int("verify", values.verify, 0, errors),
    json: values.json,
    help: values.help,
  };
  return errors.length > 0 ? { errors } : { ok: Object.freeze(options) };
}
