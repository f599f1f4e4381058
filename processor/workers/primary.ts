/**
 * The primary process when the processor runs several workers: it forks one worker per core
 * (`node:cluster`), which all accept gRPC connections on the shared port (the primary hands each
 * new connection to the next worker in turn), and it answers the HTTP health check for the whole
 * pod. It serves no stream; with Remote Configuration on it loads a WAF of its own to apply each
 * change once, then sends what it accepted to every worker (`remote-config/waf-apply.ts`).
 *
 * - Ready once every worker has reported ready; while a crashed worker is being replaced the pod
 *   stays ready as long as one worker serves (the others carry its connections meanwhile).
 * - A worker that exits unexpectedly is logged and replaced. One that fails during startup (bad
 *   ruleset, port in use) stops the primary with the worker's exit code: a replacement would fail
 *   the same way, and Kubernetes should see the crash.
 * - SIGTERM/SIGINT: health reports draining, every worker drains (GOAWAY, open streams finish up to
 *   the drain timeout), and the primary exits 0 once they all have. A second signal exits 1 at once.
 */
import cluster, { type Worker } from "node:cluster";
import type { Server as HttpServer } from "node:http";
import type { Logger } from "../log.ts";
import { type InspectionStatus, type MetricsSnapshot, notInspecting } from "../metrics/index.ts";
import type { WafConfigSnapshot } from "../remote-config/index.ts";
import type { Readiness } from "../server/index.ts";
import { isWorkerMessage, type PrimaryMessage } from "./messages.ts";
import { scrapeWorkers } from "./scrape.ts";

/** Options of {@link runPrimary}. */
export interface PrimaryOptions {
  readonly workers: number;
  /** Arguments for each worker's Node.js (heap sizing). */
  readonly execArgv: readonly string[];
  readonly readiness: Readiness;
  /** The health server, already listening; closed at exit. */
  readonly health: HttpServer;
  readonly drainTimeoutMs: number;
  /** DD_APPSEC_ENABLED, for the health check before any worker reported. */
  readonly appsecEnabled: boolean;
  readonly log: Logger;
  /** The current Remote Configuration, sent to a worker that asks for it. */
  readonly wafConfigs?: (() => WafConfigSnapshot) | undefined;
  /** Called once, when the first generation of workers is all ready. */
  readonly onStarted?: (() => void) | undefined;
}

/** What the primary's health server asks of the workers. */
export interface PrimaryHandle {
  /** Each live worker's metrics (those that answer within `timeoutMs`), and how many are live. */
  scrape(timeoutMs: number): Promise<{ snapshots: MetricsSnapshot[]; live: number }>;
  /** The WAF state the workers reported: inspecting only when every ready worker is. */
  inspection(): InspectionStatus;
  /** Sends the Remote Configuration to every live worker. */
  broadcastWafConfigs(snapshot: WafConfigSnapshot): void;
}

/** Restarts faster than this many in a minute mean a crash loop: stop instead. */
const MAX_RESTARTS_PER_MINUTE = 10;

/** Forks the workers and supervises them until shutdown; exits the process when done. */
export function runPrimary(options: PrimaryOptions): PrimaryHandle {
  const { readiness, log } = options;
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...options.execArgv] });
  const ready = new Set<number>();
  const statuses = new Map<number, InspectionStatus>();
  const restarts: number[] = [];
  let draining = false;
  // Ready once the first generation is all up; after that, one serving worker is enough.
  let started = false;

  // Our own list: Node removes an exited worker from `cluster.workers` only once its IPC channel
  // has also closed, which may come after the exit event.
  const live = new Map<number, Worker>();
  const fork = (): Worker => {
    const worker = cluster.fork();
    live.set(worker.id, worker);
    worker.on("message", (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.kind === "waf-configs-request") {
        const snapshot = options.wafConfigs?.() ?? { configs: [] };
        sendQuietly(worker, { kind: "waf-configs", snapshot }, log);
        return;
      }
      if (message.kind !== "ready") return;
      ready.add(worker.id);
      if (message.status) statuses.set(worker.id, message.status);
      if (!started && ready.size === options.workers) {
        started = true;
        log.info("processor ready", { workers: options.workers });
        options.onStarted?.();
      }
      if (started && !draining) readiness.set("ready");
    });
    return worker;
  };

  cluster.on("exit", (worker, code, signal) => {
    const wasReady = ready.delete(worker.id);
    statuses.delete(worker.id);
    live.delete(worker.id);
    if (draining) {
      if (live.size === 0) finish(options, log);
      return;
    }
    if (!wasReady) {
      log.error("worker failed during startup: stopping", { worker: worker.id, code, signal });
      stopAll(code === 2 ? 2 : 1);
      return;
    }
    log.error("worker exited unexpectedly: starting a replacement", {
      worker: worker.id,
      code,
      signal,
    });
    if (ready.size === 0) readiness.set("starting");
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && (restarts[0] ?? now) < now - 60_000) restarts.shift();
    if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
      log.error("workers keep crashing: stopping", { restartsInLastMinute: restarts.length });
      stopAll(1);
      return;
    }
    fork();
  });

  const stopAll = (exitCode: number) => {
    draining = true;
    for (const worker of live.values()) worker.kill("SIGKILL");
    process.exit(exitCode);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      log.warn("second signal: exiting without waiting for open streams", { signal });
      stopAll(1);
    }
    draining = true;
    readiness.set("draining");
    log.info("shutting down: draining workers", {
      signal,
      workers: live.size,
      drainTimeoutMs: options.drainTimeoutMs,
    });
    const drain: PrimaryMessage = { kind: "drain" };
    for (const worker of live.values()) worker.send(drain);
    // A worker that does not exit in time (stuck) is killed: the pod must not outlive its grace.
    const deadline = setTimeout(() => {
      for (const worker of live.values()) worker.kill("SIGKILL");
    }, options.drainTimeoutMs + 10_000);
    deadline.unref();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  for (let i = 0; i < options.workers; i++) fork();
  log.info("workers starting", { workers: options.workers });
  return {
    scrape: async (timeoutMs) => ({
      snapshots: await scrapeWorkers([...live.values()], timeoutMs),
      live: live.size,
    }),
    inspection: () => combineStatuses([...statuses.values()], options.appsecEnabled),
    broadcastWafConfigs(snapshot) {
      if (draining) return;
      for (const worker of live.values()) {
        sendQuietly(worker, { kind: "waf-configs", snapshot }, log);
      }
    },
  };
}

/**
 * A worker that died meanwhile has no IPC channel: the send fails, which is logged and otherwise
 * harmless (its replacement asks for the configuration when it starts).
 */
function sendQuietly(worker: Worker, message: PrimaryMessage, log: Logger): void {
  try {
    worker.send(message, (error: Error | null) => {
      if (error) {
        log.debug("message to a worker not delivered", { worker: worker.id, error: error.message });
      }
    });
  } catch (error) {
    log.debug("message to a worker not delivered", { worker: worker.id, error: String(error) });
  }
}

/** One status for the pod: the first worker's, ready only if every reporting worker is. */
function combineStatuses(
  statuses: readonly InspectionStatus[],
  appsecEnabled: boolean,
): InspectionStatus {
  const [first] = statuses;
  if (first === undefined) return notInspecting(appsecEnabled);
  return { ...first, wafReady: statuses.every((status) => status.wafReady) };
}

function finish(options: PrimaryOptions, log: Logger): void {
  options.health.close();
  log.info("shutdown complete");
  process.exit(0);
}
