/**
 * Starts the gRPC server in the test process on port 0 (or a unix socket), with a chosen inspector, and stops it cleanly after the test.
 */
import type { Inspector } from "../../processor/inspector/index.ts";
import { createLogger, type LogLevel } from "../../processor/log.ts";
import {
  type Admission,
  createIdleStreams,
  createReadiness,
  createServer,
  createServices,
  type GrpcServer,
  type IdleStreams,
  type KeepaliveOptions,
  type Readiness,
  type TlsMaterial,
} from "../../processor/server/index.ts";

/** A running in-process server. */
export interface TestServer {
  readonly server: GrpcServer;
  readonly readiness: Readiness;
  /** `127.0.0.1:port` or `unix:/path`. */
  readonly target: string;
  /** Log lines the server wrote. */
  readonly logs: Array<Record<string, unknown>>;
  /** Open ext_proc streams (tracked for idleness; 0 when no idle timeout was given). */
  readonly idleStreams: IdleStreams;
  /** Destroys every open connection, as a network failure would. */
  dropConnections(): void;
  close(): Promise<void>;
}

/** Options of {@link startTestServer}. */
export interface TestServerOptions {
  inspector: Inspector;
  tls?: TlsMaterial;
  socketPath?: string;
  readMaxBytes?: number;
  logLevel?: LogLevel;
  keepalive?: KeepaliveOptions;
  /** DD_SERVICE_EXTENSION_STREAM_IDLE_TIMEOUT in ms; streams are never ended for idleness when absent. */
  idleTimeoutMs?: number;
  /** Load shedding; every stream is admitted when absent. */
  admission?: Admission;
}

/** Starts a server; `close()` stops it and releases open inspections. */
export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger({
    level: options.logLevel ?? "debug",
    sink: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  const readiness = createReadiness();
  readiness.set("ready");
  const idleStreams = createIdleStreams(options.idleTimeoutMs ?? 0);
  const server = createServer({
    services: createServices({
      inspector: options.inspector,
      readiness,
      log,
      idleStreams,
      ...(options.admission ? { admission: options.admission } : {}),
    }),
    ...(options.tls ? { tls: options.tls } : {}),
    maxConcurrentStreams: 10_000,
    readMaxBytes: options.readMaxBytes ?? 11 * 1024 * 1024,
    ...(options.keepalive ? { keepalive: options.keepalive } : {}),
  });
  await server.listen(
    options.socketPath ? { path: options.socketPath } : { host: "127.0.0.1", port: 0 },
  );
  const target = options.socketPath ? `unix:${options.socketPath}` : `127.0.0.1:${server.port}`;
  return {
    server,
    readiness,
    target,
    logs,
    idleStreams,
    dropConnections: () => server.destroyConnections(),
    close: () => {
      idleStreams.stop();
      options.admission?.stop();
      return server.drain(0);
    },
  };
}
