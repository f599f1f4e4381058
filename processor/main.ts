/**
 * The processor's entry point and the only module with side effects: reads the config, starts the
 * health and gRPC servers, and handles signals and exit codes.
 *
 * Exit codes: 0 after a graceful shutdown; 2 for invalid configuration; 1 for any other startup
 * or serving failure, and for a second signal during the drain.
 */
import { rmSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import type { Http2Session } from "node:http2";
import { type Config, formatConfigError, loadConfig } from "./config/index.ts";
import { isStartupError, StartupError } from "./errors.ts";
import {
  createBodyBudget,
  createWafSessionFactory,
  passThroughSession,
  type SessionFactory,
} from "./extproc/index.ts";
import { createLogger, type Logger } from "./log.ts";
import {
  createHealthServer,
  createReadiness,
  createRoutes,
  createServer,
  describeCertificate,
  type GrpcServer,
  loadTlsMaterial,
  type Readiness,
  watchTlsFiles,
} from "./server/index.ts";
import { createTracer } from "./tracing/index.ts";
import { PROCESSOR_VERSION } from "./version.ts";
import { createWafEngine, isWafLoadError, loadBlockTemplates } from "./waf/index.ts";

/** gRPC framing overhead allowed above the body limit when sizing the largest accepted message. */
const MESSAGE_HEADROOM_BYTES = 1024 * 1024;

async function main(): Promise<void> {
  const loaded = loadConfig(process.env);
  if (!loaded.ok) {
    const log = createLogger({ component: "config" });
    for (const error of loaded.errors)
      log.error(formatConfigError(error), { variable: error.name });
    process.exit(2);
  }
  const { config } = loaded;
  const log = createLogger({ level: config.logLevel, component: "main" });
  for (const warning of loaded.warnings) log.child("config").warn(warning);
  process.on("unhandledRejection", (reason) =>
    log.error("unhandled rejection", { error: String(reason) }),
  );
  try {
    await serve(config, log);
  } catch (error) {
    log.error("startup failed", {
      code: isStartupError(error) ? error.code : "unknown",
      error: String(error),
    });
    process.exit(1);
  }
}

async function serve(config: Config, log: Logger): Promise<void> {
  const readiness = createReadiness();
  const version = config.version ?? PROCESSOR_VERSION;
  const health = createHealthServer(readiness, { version, appsecEnabled: config.appsecEnabled });
  await listenHttp(health, config.healthPort, config.host);
  log.info("health server listening", { host: config.host, port: addressPort(health) });

  const { createSession, flushTraces } = loadInspection(config, log);
  const shutdown = new AbortController();
  const routes = createRoutes({ createSession, readiness, log: log.child("extproc") });
  const tls =
    config.tls && !config.udsPath
      ? await loadTlsMaterial(
          { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile },
          log.child("server"),
        )
      : undefined;
  const server = createServer({
    routes,
    ...(tls ? { tls } : {}),
    maxConcurrentStreams: config.maxConcurrentStreams,
    readMaxBytes: config.bodyLimit + MESSAGE_HEADROOM_BYTES,
    shutdownSignal: shutdown.signal,
  });
  const sessions = trackSessions(server);
  const stopWatching =
    tls?.source === "file" && "setSecureContext" in server
      ? watchTlsFiles(
          server,
          { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile },
          tls,
          config.tlsReloadIntervalMs,
          log.child("server"),
        )
      : () => {};
  await listenGrpc(server, config);

  installShutdown({
    config,
    log,
    readiness,
    server,
    health,
    sessions,
    shutdown,
    stopWatching,
    flushTraces,
  });
  // Ready, and only now announced: a signal from here on drains instead of killing.
  readiness.set("ready");
  log.info("ext_proc server listening", {
    address: config.udsPath ?? `${config.host}:${addressPort(server)}`,
    tls: tls !== undefined,
    ...(tls ? describeCertificate(tls.cert) : {}),
    version,
    bodyLimit: config.bodyLimit,
    observabilityMode: config.observabilityMode,
  });
}

/** What a graceful shutdown stops. */
interface ShutdownTargets {
  readonly config: Config;
  readonly log: Logger;
  readonly readiness: Readiness;
  readonly server: GrpcServer;
  readonly health: HttpServer;
  readonly sessions: Set<Http2Session>;
  readonly shutdown: AbortController;
  readonly stopWatching: () => void;
  /** Sends buffered traces to the Agent; bounded, so an absent Agent cannot hold the exit. */
  readonly flushTraces: () => Promise<void>;
}

/**
 * SIGTERM/SIGINT: report draining (health 503, gRPC NOT_SERVING), stop accepting connections, send
 * GOAWAY so Envoy opens new streams elsewhere, let open streams finish up to the drain timeout,
 * then cancel what is left and exit 0. A second signal exits at once with code 1.
 */
function installShutdown(targets: ShutdownTargets): void {
  const { config, log, readiness, server, health, sessions, shutdown, stopWatching, flushTraces } =
    targets;
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
      openConnections: sessions.size,
      drainTimeoutMs: config.drainTimeoutMs,
    });
    stopWatching();
    const deadline = setTimeout(() => {
      log.warn("drain timeout reached: cancelling open streams", {
        openConnections: sessions.size,
      });
      shutdown.abort();
      for (const session of sessions) session.destroy();
    }, config.drainTimeoutMs);
    deadline.unref();
    // close() stops accepting connections; session.close() sends GOAWAY and lets open streams finish.
    server.close(() => {
      clearTimeout(deadline);
      if (config.udsPath) rmSync(config.udsPath, { force: true });
      health.close();
      // The tracer's flush runs on unreferenced timers: hold the loop open until it settles.
      const hold = setTimeout(() => {}, 5000);
      void flushTraces().finally(() => {
        clearTimeout(hold);
        log.info("shutdown complete");
        process.exit(0);
      });
    });
    for (const session of sessions) session.close();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/** Loads the WAF and block pages, or returns the pass-through session when AppSec is off. */
function loadInspection(
  config: Config,
  log: Logger,
): { createSession: SessionFactory; flushTraces: () => Promise<void> } {
  if (!config.appsecEnabled) {
    log.warn(
      "App and API Protection is DISABLED (DD_APPSEC_ENABLED=false): requests are not inspected, every message gets CONTINUE",
    );
    return { createSession: passThroughSession, flushTraces: async () => {} };
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

    const tracer = createTracer(config, log.child("tracing"));
    const bodyBudget = createBodyBudget(config.bodyMemoryLimit);
    const createSession = createWafSessionFactory({
      config,
      engine,
      templates,
      tracer,
      bodyBudget,
      log: log.child("extproc"),
    });
    return { createSession, flushTraces: () => tracer.shutdown(2000) };
  } catch (error) {
    if (isWafLoadError(error))
      throw new StartupError("waf", `${error.code}: ${error.message}`, { cause: error });
    throw error;
  }
}

function trackSessions(server: GrpcServer): Set<Http2Session> {
  const sessions = new Set<Http2Session>();
  server.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  return sessions;
}

function listenHttp(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (error) =>
      reject(new StartupError("listen", `health port ${port}: ${error.message}`, { cause: error })),
    );
    server.listen(port, host, () => resolve());
  });
}

function listenGrpc(server: GrpcServer, config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    const target = config.udsPath ?? `${config.host}:${config.port}`;
    server.once("error", (error) =>
      reject(
        new StartupError("listen", `gRPC listener ${target}: ${error.message}`, { cause: error }),
      ),
    );
    if (config.udsPath) {
      // A socket file left by a crashed process would make listen fail with EADDRINUSE.
      rmSync(config.udsPath, { force: true });
      server.listen(config.udsPath, () => resolve());
    } else {
      server.listen(config.port, config.host, () => resolve());
    }
  });
}

function addressPort(server: { address(): unknown }): number | undefined {
  const address = server.address();
  return typeof address === "object" && address !== null && "port" in address
    ? Number(address.port)
    : undefined;
}

await main();
