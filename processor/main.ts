/**
 * The processor's entry point and the only module with side effects: reads the config, starts the
 * health and gRPC servers, and handles signals and exit codes. It runs in one of three roles:
 * alone (one worker: health, gRPC and signals in one process), or as the primary of several worker
 * processes (health and supervision, `workers/`), or as one of those workers (gRPC only).
 *
 * Exit codes: 0 after a graceful shutdown; 2 for invalid configuration; 1 for any other startup
 * or serving failure, and for a second signal during the drain.
 */
import cluster from "node:cluster";
import { rmSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import { type Config, formatConfigError, loadConfig } from "./config/index.ts";
import { isStartupError, StartupError } from "./errors.ts";
import {
  createBodyBudget,
  createWafInspector,
  type Inspector,
  PASS_THROUGH_INSPECTOR,
} from "./inspector/index.ts";
import { createLogger, type Logger } from "./log.ts";
import {
  createMetrics,
  type InspectionStatus,
  type Metrics,
  type MetricsSnapshot,
  notInspecting,
  type ProcessMetrics,
  renderMetrics,
  workerGauges,
} from "./metrics/index.ts";
import {
  type ApplyHook,
  createWafReplica,
  remoteConfigFor,
  type WafConfigSnapshot,
} from "./remote-config/index.ts";
import {
  createAdmission,
  createHealthServer,
  createIdleStreams,
  createReadiness,
  createServer,
  createServices,
  describeCertificate,
  describeClientCa,
  type GrpcServer,
  type HealthInfo,
  loadTlsMaterial,
  type Readiness,
  watchTlsFiles,
} from "./server/index.ts";
import { createTracer } from "./tracing/index.ts";
import { PROCESSOR_VERSION } from "./version.ts";
import {
  createWafEngine,
  isWafLoadError,
  loadBlockTemplates,
  type WafEngine,
} from "./waf/index.ts";
import { inspectorOptions, remoteConfigOptions, tracerOptions } from "./wiring.ts";
import {
  containerLimits,
  isPrimaryMessage,
  type PrimaryHandle,
  runPrimary,
  type WorkerMessage,
  workerCount,
  workerHeapArgs,
} from "./workers/index.ts";

/** How long the primary waits for the workers' metrics on a scrape. */
const SCRAPE_TIMEOUT_MS = 2000;

/** gRPC framing overhead allowed above the body limit when sizing the largest accepted message. */
const MESSAGE_HEADROOM_BYTES = 1024 * 1024;

async function main(): Promise<void> {
  const loaded = loadConfig(process.env);
  if (!loaded.ok) {
    const log = createLogger({ component: "config" });
    for (const error of loaded.error) log.error(formatConfigError(error), { variable: error.name });
    process.exit(2);
  }
  const { config, warnings } = loaded.value;
  const log = createLogger({
    level: config.logLevel,
    component: "main",
    ...(cluster.isWorker ? { fields: { worker: cluster.worker?.id, pid: process.pid } } : {}),
  });
  process.on("unhandledRejection", (reason) =>
    log.error("unhandled rejection", { error: String(reason) }),
  );
  if (cluster.isWorker) {
    await startOrExit(() => serveWorker(config, log), log);
    return;
  }
  for (const warning of warnings) log.child("config").warn(warning);
  const limits = containerLimits();
  const workers = workerCount(config.workers, limits);
  await startOrExit(
    () =>
      workers === 1
        ? serveAlone(config, log)
        : servePrimary(config, log, workers, workerHeapArgs(workers, limits)),
    log,
  );
}

async function startOrExit(start: () => Promise<void>, log: Logger): Promise<void> {
  try {
    await start();
  } catch (error) {
    log.error("startup failed", {
      code: isStartupError(error) ? error.code : "unknown",
      error: String(error),
    });
    process.exit(1);
  }
}

/** One process does everything: health, gRPC, signals. */
async function serveAlone(config: Config, log: Logger): Promise<void> {
  const readiness = createReadiness();
  let grpc: GrpcRuntime | undefined;
  const health = await startHealth(config, readiness, log, {
    inspection: () => grpc?.inspection() ?? notInspecting(config.appsecEnabled),
    metrics: async () => renderMetrics(grpc ? [await grpc.metrics.snapshot()] : []),
  });
  grpc = await startGrpc(config, readiness, log);
  // Alone, this process is the pod's one Remote Configuration client.
  const counted = grpc.metrics.metrics;
  const remote =
    grpc.engine && config.appsecEnabled
      ? remoteConfigFor({
          options: remoteConfigOptions(config),
          engine: grpc.engine,
          log: log.child("remote-config"),
          onApply: countApply(counted),
        })
      : undefined;
  const stop = async () => {
    remote?.client.stop();
    await grpc.drain();
    health.close();
    await grpc.flush();
  };
  installSignals(log, readiness, grpc.connections, config.drainTimeoutMs, stop);
  readiness.set("ready");
  log.info("processor ready", { workers: 1 });
}

/** The primary of several workers: health and supervision only (`workers/primary.ts`). */
async function servePrimary(
  config: Config,
  log: Logger,
  workers: number,
  execArgv: string[],
): Promise<void> {
  const readiness = createReadiness();
  let primary: PrimaryHandle | undefined;
  const inspection = () => primary?.inspection() ?? notInspecting(config.appsecEnabled);
  // The primary's own series (worker="primary", not summed into "all"): its process metrics and
  // the Remote Configuration applies of the pod's one client.
  const own = createMetrics({ worker: "primary", status: inspection });
  const health = await startHealth(config, readiness, log, {
    inspection,
    metrics: async () => {
      const { snapshots, live } = (await primary?.scrape(SCRAPE_TIMEOUT_MS)) ?? {
        snapshots: [],
        live: 0,
      };
      const extra = [...(await workerGauges(live, snapshots.length)), ...(await own.snapshot())];
      return renderMetrics(snapshots, extra);
    },
  });
  // Workers share the primary's listening socket: a stale socket file must go before they bind.
  if (config.udsPath) rmSync(config.udsPath, { force: true });
  let remote: ReturnType<typeof remoteConfigFor>;
  // The pod's one Remote Configuration client runs here, its own WAF deciding what is accepted.
  // Started once the workers are up: they load their WAFs first (a bad ruleset fails there, with
  // the worker's exit code), and the primary does not compete with them for the CPU meanwhile.
  const startRemoteConfig = (handle: PrimaryHandle) => {
    if (!config.appsecEnabled || !config.remoteConfigEnabled) return;
    remote = remoteConfigFor({
      options: remoteConfigOptions(config),
      engine: primaryEngine(config, log),
      log: log.child("remote-config"),
      onApply: countApply(own.metrics),
      afterApply: (applier) => handle.broadcastWafConfigs(applier.snapshot()),
    });
  };
  primary = runPrimary({
    workers,
    execArgv,
    readiness,
    health,
    drainTimeoutMs: config.drainTimeoutMs,
    appsecEnabled: config.appsecEnabled,
    log: log.child("primary"),
    wafConfigs: () => remote?.applier.snapshot() ?? { configs: [] },
    onStarted: () => {
      try {
        if (primary) startRemoteConfig(primary);
      } catch (error) {
        // The workers loaded the same rules: this does not happen short of memory exhaustion.
        log.error("Remote Configuration not started: the WAF did not load in the primary", {
          error: String(error),
        });
      }
    },
  });
}

/** The primary's WAF, used only to apply Remote Configuration before the workers copy it. */
function primaryEngine(config: Config, log: Logger): WafEngine {
  try {
    return createWafEngine({
      rulesPath: config.rulesPath,
      obfuscatorKeyRegex: config.obfuscatorKeyRegex,
      obfuscatorValueRegex: config.obfuscatorValueRegex,
      log: log.child("waf"),
    });
  } catch (error) {
    if (isWafLoadError(error))
      throw new StartupError("waf", `${error.code}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** A worker: gRPC only; the primary tells it when to drain. */
async function serveWorker(config: Config, log: Logger): Promise<void> {
  const readiness = createReadiness();
  const configs = workerConfigs(config, log);
  const grpc = await startGrpc(config, readiness, log, configs.prepare);
  const stop = async () => {
    await grpc.drain();
    await grpc.flush();
  };
  let stopping = false;
  const drain = () => {
    if (stopping) return;
    stopping = true;
    readiness.set("draining");
    void stop().finally(() => process.exit(0));
  };
  process.on("message", (message) => {
    if (!isPrimaryMessage(message)) return;
    if (message.kind === "drain") drain();
    else if (message.kind === "metrics") void sendMetrics(message.id, grpc.metrics);
  });
  // Ctrl-C reaches the whole process group; the primary coordinates, the worker just drains.
  process.on("SIGINT", drain);
  process.on("SIGTERM", drain);
  readiness.set("ready");
  const ready: WorkerMessage = { kind: "ready", status: grpc.inspection() };
  process.send?.(ready);
}

/** How long a starting worker waits for the primary's Remote Configuration before serving. */
const WORKER_CONFIG_WAIT_MS = 10_000;

/**
 * A worker's copy of the primary's Remote Configuration. It listens and asks at once (before its
 * WAF is even loaded, so nothing the primary sends is missed), and `prepare` applies the answer
 * before the worker serves: a replacement worker never serves on stale rules. Later snapshots
 * apply as they arrive.
 */
function workerConfigs(
  config: Config,
  log: Logger,
): { prepare: (engine: WafEngine | undefined) => Promise<void> } {
  if (!config.appsecEnabled || !config.remoteConfigEnabled) return { prepare: async () => {} };
  let latest: WafConfigSnapshot | undefined;
  let apply: ((snapshot: WafConfigSnapshot) => void) | undefined;
  let arrived: () => void = () => {};
  const first = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  process.on("message", (message) => {
    if (!isPrimaryMessage(message) || message.kind !== "waf-configs") return;
    latest = message.snapshot;
    apply?.(message.snapshot);
    arrived();
  });
  const request: WorkerMessage = { kind: "waf-configs-request" };
  process.send?.(request);
  return {
    prepare: async (engine) => {
      if (engine === undefined) return;
      const replica = createWafReplica(engine, log.child("remote-config"));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), WORKER_CONFIG_WAIT_MS);
      });
      const late = await Promise.race([first.then(() => false), timedOut]);
      clearTimeout(timer);
      if (late) {
        log.warn("no Remote Configuration from the primary yet: serving with the current rules");
      }
      apply = (snapshot) => replica.sync(snapshot);
      if (latest !== undefined) replica.sync(latest);
    },
  };
}

/** A worker's answer to the primary's scrape. */
async function sendMetrics(id: number, metrics: ProcessMetrics): Promise<void> {
  let snapshot: MetricsSnapshot = [];
  try {
    snapshot = await metrics.snapshot();
  } finally {
    const answer: WorkerMessage = { kind: "metrics", id, snapshot };
    process.send?.(answer);
  }
}

async function startHealth(
  config: Config,
  readiness: Readiness,
  log: Logger,
  sources: Pick<HealthInfo, "inspection" | "metrics">,
) {
  const version = config.version ?? PROCESSOR_VERSION;
  const health = createHealthServer(readiness, { version, ...sources });
  await listenHttp(health, config.healthPort, config.host);
  log.info("health server listening", { host: config.host, port: addressPort(health) });
  return health;
}

/** The running gRPC side of a process. */
interface GrpcRuntime {
  /** GOAWAY, open streams finish (cancelled after the drain timeout); resolves when all closed. */
  drain(): Promise<void>;
  /** Sends buffered traces to the Agent; bounded, so an absent Agent cannot hold the exit. */
  flush(): Promise<void>;
  connections(): number;
  /** This process's metrics (`/metrics`). */
  readonly metrics: ProcessMetrics;
  /** Whether this process's WAF is loaded and inspecting. */
  inspection(): InspectionStatus;
  /** The WAF of this process; undefined when AppSec is off. */
  readonly engine: WafEngine | undefined;
}

async function startGrpc(
  config: Config,
  readiness: Readiness,
  log: Logger,
  prepare: (engine: WafEngine | undefined) => Promise<void> = async () => {},
): Promise<GrpcRuntime> {
  const { inspector, flushTraces, metrics, inspection, engine } = loadInspector(config, log);
  await prepare(engine);
  const idleStreams = createIdleStreams(config.streamIdleTimeoutMs);
  const admission = createAdmission({
    maxQueueDelayMs: config.shedQueueDelayMs,
    maxOpenStreams: config.maxOpenStreams,
  });
  const services = createServices({
    inspector,
    readiness,
    log: log.child("extproc"),
    metrics: metrics.metrics,
    idleStreams,
    admission,
  });
  const tlsFiles = {
    certFile: config.tlsCertFile,
    keyFile: config.tlsKeyFile,
    clientCaFile: config.tlsClientCaFile,
  };
  const serving = config.tls && !config.udsPath;
  // Mutual TLS asked for but no TLS to apply it to: serving anyway would let any client in.
  if (config.tlsClientCaFile !== undefined && !serving)
    throw new StartupError(
      "tls",
      `DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE is set but gRPC is served without TLS (${config.udsPath ? "DD_SERVICE_EXTENSION_UDS_PATH is set" : "DD_SERVICE_EXTENSION_TLS=false"}): client certificates could not be checked`,
    );
  const tls = serving ? await loadTlsMaterial(tlsFiles, log.child("server")) : undefined;
  const server = createServer({
    services,
    ...(tls ? { tls } : {}),
    maxConcurrentStreams: config.maxConcurrentStreams,
    readMaxBytes: config.bodyLimitBytes + MESSAGE_HEADROOM_BYTES,
  });
  const stopWatching =
    tls && (tls.source === "file" || tls.clientCa !== undefined)
      ? watchTlsFiles(server, tlsFiles, tls, config.tlsReloadIntervalMs, log.child("server"))
      : () => {};
  await listenGrpc(server, config);
  log.info("ext_proc server listening", {
    address: config.udsPath ?? `${config.host}:${server.port}`,
    tls: tls !== undefined,
    mutualTls: tls?.clientCa !== undefined,
    ...(tls?.clientCa ? { clientCa: describeClientCa(tls.clientCa) } : {}),
    ...(tls ? describeCertificate(tls.cert) : {}),
    version: config.version ?? PROCESSOR_VERSION,
    bodyLimitBytes: config.bodyLimitBytes,
    observabilityMode: config.observabilityMode,
  });
  return {
    drain: async () => {
      stopWatching();
      admission.stop();
      await server.drain(config.drainTimeoutMs, (openConnections) =>
        log.warn("drain timeout reached: cancelling open streams", { openConnections }),
      );
      if (config.udsPath && !cluster.isWorker) rmSync(config.udsPath, { force: true });
    },
    flush: async () => {
      // The tracer's flush runs on unreferenced timers: hold the loop open until it settles.
      const hold = setTimeout(() => {}, 5000);
      await flushTraces().finally(() => clearTimeout(hold));
    },
    connections: () => server.connections,
    metrics,
    inspection,
    engine,
  };
}

/**
 * SIGTERM/SIGINT: report draining (health 503, gRPC NOT_SERVING), stop accepting connections, send
 * GOAWAY so Envoy opens new streams elsewhere, let open streams finish up to the drain timeout,
 * then cancel what is left and exit 0. A second signal exits at once with code 1.
 */
function installSignals(
  log: Logger,
  readiness: Readiness,
  connections: () => number,
  drainTimeoutMs: number,
  stop: () => Promise<void>,
): void {
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      log.warn("second signal: exiting without waiting for open streams", { signal });
      process.exit(1);
    }
    draining = true;
    readiness.set("draining");
    log.info("shutting down: draining open streams", {
      signal,
      openConnections: connections(),
      drainTimeoutMs,
    });
    void stop().finally(() => {
      log.info("shutdown complete");
      process.exit(0);
    });
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/** What serves the streams of a process: its inspector, metrics and WAF state. */
interface Serving {
  readonly inspector: Inspector;
  readonly flushTraces: () => Promise<void>;
  readonly metrics: ProcessMetrics;
  readonly inspection: () => InspectionStatus;
  /** The WAF; undefined when AppSec is off. */
  readonly engine?: WafEngine;
}

/** This process's label in metrics: its cluster worker id, 0 when it runs alone. */
function workerLabel(): string {
  return String(cluster.worker?.id ?? 0);
}

/** Loads the WAF and block pages, or returns the pass-through inspector when AppSec is off. */
function loadInspector(config: Config, log: Logger): Serving {
  if (!config.appsecEnabled) {
    log.warn(
      "App and API Protection is DISABLED (DD_APPSEC_ENABLED=false): requests are not inspected, every message gets CONTINUE",
    );
    const inspection = () => notInspecting(false);
    return {
      inspector: PASS_THROUGH_INSPECTOR,
      flushTraces: async () => {},
      metrics: createMetrics({ worker: workerLabel(), status: inspection }),
      inspection,
    };
  }
  const wafLog = log.child("waf");
  try {
    const engine = createWafEngine({
      rulesPath: config.rulesPath,
      obfuscatorKeyRegex: config.obfuscatorKeyRegex,
      obfuscatorValueRegex: config.obfuscatorValueRegex,
      log: wafLog,
    });
    const templates = loadBlockTemplates({
      jsonPath: config.blockedTemplateJson,
      htmlPath: config.blockedTemplateHtml,
      log: wafLog,
    });

    // dd-trace would start a Remote Configuration client of its own in every serving process
    // (APM_TRACING, AGENT_CONFIG, ...): the pod's one client is ours (remote-config/), and
    // dd-trace's APM products change nothing here since the processor builds its spans itself.
    // dd-trace reads this switch from the environment only. Set here, in a process that never
    // forks (alone, or a worker), so the workers' own config still sees the user's value.
    process.env.DD_REMOTE_CONFIGURATION_ENABLED = "false";
    const tracer = createTracer(tracerOptions(config), log.child("tracing"));
    const bodyBudget = createBodyBudget(config.bodyMemoryLimitBytes);
    const inspection = (): InspectionStatus => ({
      appsecEnabled: true,
      wafReady: engine.loadedRules > 0,
      wafVersion: engine.wafVersion,
      rulesVersion: engine.rulesVersion,
      loadedRules: engine.loadedRules,
      failedRules: engine.failedRules.length,
      bodyInspection: config.bodyLimitBytes > 0,
      blocking: !config.observabilityMode,
    });
    const metrics = createMetrics({ worker: workerLabel(), status: inspection, bodyBudget });
    const inspector = createWafInspector(inspectorOptions(config), {
      engine,
      templates,
      tracer,
      bodyBudget,
      log: log.child("inspector"),
      metrics: metrics.metrics,
    });
    return {
      inspector,
      flushTraces: () => tracer.shutdown(2000),
      metrics,
      inspection,
      engine,
    };
  } catch (error) {
    if (isWafLoadError(error))
      throw new StartupError("waf", `${error.code}: ${error.message}`, { cause: error });
    throw error;
  }
}

function listenHttp(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (error) =>
      reject(new StartupError("listen", `health port ${port}: ${error.message}`, { cause: error })),
    );
    server.listen(port, host, () => resolve());
  });
}

async function listenGrpc(server: GrpcServer, config: Config): Promise<void> {
  const target = config.udsPath ?? `${config.host}:${config.port}`;
  // A socket file left by a crashed process would make listen fail with EADDRINUSE (workers
  // share the primary's socket, which removed it before forking them).
  if (config.udsPath && !cluster.isWorker) rmSync(config.udsPath, { force: true });
  try {
    await server.listen(
      config.udsPath ? { path: config.udsPath } : { host: config.host, port: config.port },
    );
  } catch (error) {
    throw new StartupError("listen", `gRPC listener ${target}: ${String(error)}`, {
      cause: error,
    });
  }
}

function addressPort(server: { address(): unknown }): number | undefined {
  const address = server.address();
  return typeof address === "object" && address !== null && "port" in address
    ? Number(address.port)
    : undefined;
}

await main();

/** Counts each Remote Configuration apply in the metrics. */
function countApply(metrics: Metrics): ApplyHook {
  return (product, result) =>
    metrics.remoteConfigApplied(product, result === "ok" ? "applied" : "rejected");
}
