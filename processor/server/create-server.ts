/**
 * The gRPC server: grpc-js's HTTP/2 and gRPC machinery behind a listener we own. grpc-js serves
 * Envoy's traffic because it measured several times cheaper per stream than Connect's universal
 * handler (docs/performance.md); the listener stays ours (a connection injector) so that draining,
 * unix sockets and counting connections do not depend on grpc-js internals.
 *
 * TLS or cleartext (h2c, for unix sockets and local tests); TLS material can be replaced at runtime
 * (certificate rotation) and applies to new connections only.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { SecureContextOptions } from "node:tls";
import { type ConnectionInjector, Server, ServerCredentials } from "@grpc/grpc-js";
import { DEFAULT_KEEPALIVE, type KeepaliveOptions } from "./keepalive.ts";
import type { GrpcService } from "./services.ts";
import { installStreamGate, type StreamGate } from "./stream-gate.ts";
import type { TlsMaterial } from "./tls.ts";

/**
 * The TLS policy of the gRPC listener: TLS 1.2 minimum, and in TLS 1.2 only ECDHE key exchange
 * with AEAD ciphers (forward secrecy, no CBC, no static RSA), which is also what HTTP/2 requires
 * (RFC 9113 §9.2.2) and what Envoy offers by default. TLS 1.3 suites are all modern. No HTTP/1
 * fallback: only gRPC over HTTP/2 is served.
 */
export const TLS_POLICY = {
  minVersion: "TLSv1.2",
  ciphers: [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
  ].join(":"),
  honorCipherOrder: true,
  allowHTTP1: false,
} as const;

/** Options of {@link createServer}. */
export interface CreateServerOptions {
  readonly services: readonly GrpcService[];
  /** Serve TLS with this material; cleartext HTTP/2 when absent. */
  readonly tls?: TlsMaterial;
  /** Per-connection HTTP/2 stream limit: Envoy opens one stream per HTTP request. */
  readonly maxConcurrentStreams: number;
  /** Largest gRPC message accepted, in bytes (above the body limit: a BUFFERED body is one message). */
  readonly readMaxBytes: number;
  /** HTTP/2 ping keepalive; {@link DEFAULT_KEEPALIVE} when absent. */
  readonly keepalive?: KeepaliveOptions;
}

/** Where to listen: TCP, or a unix socket path. */
export type ListenTarget =
  | { readonly host: string; readonly port: number }
  | { readonly path: string };

/** A gRPC server that has not necessarily started listening. */
export interface GrpcServer {
  /** Starts listening; rejects with the listener's error (e.g. EADDRINUSE). */
  listen(target: ListenTarget): Promise<void>;
  /** The bound TCP port, once listening on TCP. */
  readonly port: number | undefined;
  /** Open connections (Envoy's HTTP/2 connections). */
  readonly connections: number;
  /** Replaces the certificate for new connections (TLS servers only). */
  setTls(material: TlsMaterial): void;
  /**
   * Stops accepting connections, sends GOAWAY on every open one so Envoy opens new streams
   * elsewhere, and lets open streams finish. Resolves when every connection has closed; after
   * `graceMs` the remaining connections are destroyed (their streams are cancelled), after
   * `onDeadline` is told how many were left.
   */
  drain(graceMs: number, onDeadline?: (openConnections: number) => void): Promise<void>;
  /** Destroys every open connection at once, as a network failure would. */
  destroyConnections(): void;
}

/** Creates the gRPC server without listening. */
export function createServer(options: CreateServerOptions): GrpcServer {
  const keepalive = options.keepalive ?? DEFAULT_KEEPALIVE;
  const grpc = new Server({
    "grpc.max_concurrent_streams": options.maxConcurrentStreams,
    "grpc.max_receive_message_length": options.readMaxBytes,
    "grpc.max_send_message_length": -1,
    "grpc.keepalive_time_ms": keepalive.intervalMs,
    "grpc.keepalive_timeout_ms": keepalive.timeoutMs,
    // channelz bookkeeping costs allocations on every call; nothing reads it.
    "grpc.enable_channelz": 0,
  });
  for (const service of options.services)
    grpc.addService(service.definition, service.implementation);
  const credentials = options.tls
    ? new RotatingCredentials(options.tls)
    : ServerCredentials.createInsecure();
  const injector = grpc.createConnectionInjector(credentials);
  const gates = new Map<string, StreamGate>();
  for (const service of options.services)
    if (service.gate)
      for (const method of Object.values(service.definition)) gates.set(method.path, service.gate);
  if (gates.size > 0) installStreamGate(grpc, gates);
  return new InjectedServer(injector, credentials);
}

class InjectedServer implements GrpcServer {
  readonly #sockets = new Set<Socket>();
  readonly #listener: NetServer;
  readonly #injector: ConnectionInjector;
  readonly #credentials: ServerCredentials;
  #closed: Promise<void> | undefined;

  constructor(injector: ConnectionInjector, credentials: ServerCredentials) {
    this.#injector = injector;
    this.#credentials = credentials;
    this.#listener = createNetServer({ noDelay: true }, (socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
      injector.injectConnection(socket);
    });
  }

  listen(target: ListenTarget): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#listener.once("error", reject);
      const done = () => {
        this.#listener.off("error", reject);
        resolve();
      };
      if ("path" in target) this.#listener.listen(target.path, done);
      else this.#listener.listen(target.port, target.host, done);
    });
  }

  get port(): number | undefined {
    const address = this.#listener.address();
    return typeof address === "object" && address !== null ? address.port : undefined;
  }

  get connections(): number {
    return this.#sockets.size;
  }

  setTls(material: TlsMaterial): void {
    if (this.#credentials instanceof RotatingCredentials) this.#credentials.replace(material);
  }

  drain(graceMs: number, onDeadline?: (openConnections: number) => void): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      let listenerClosed = false;
      const settle = () => {
        if (listenerClosed && this.#sockets.size === 0) {
          clearTimeout(deadline);
          resolve();
        }
      };
      for (const socket of this.#sockets) socket.once("close", settle);
      const deadline = setTimeout(() => {
        onDeadline?.(this.#sockets.size);
        this.destroyConnections();
      }, graceMs);
      deadline.unref();
      this.#listener.close(() => {
        listenerClosed = true;
        settle();
      });
      // GOAWAY on every HTTP/2 session; grpc-js destroys what is left after its own grace, which we
      // make longer than ours so that the deadline above decides.
      this.#injector.drain(graceMs + 1000);
    });
    return this.#closed;
  }

  destroyConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }
}

/**
 * Server credentials whose certificate can be replaced: grpc-js applies a replacement to its
 * HTTP/2 server's secure context (new connections), through the watcher API of its base class.
 */
class RotatingCredentials extends ServerCredentials {
  constructor(material: TlsMaterial) {
    const mutual = material.clientCa !== undefined;
    super(
      {
        ...TLS_POLICY,
        // Mutual TLS: a client without a certificate signed by the client CA fails the handshake.
        // Fixed at startup; the CA bundle itself rotates with the context below.
        requestCert: mutual,
        rejectUnauthorized: mutual,
      },
      contextOf(material),
    );
  }

  replace(material: TlsMaterial): void {
    this.updateSecureContextOptions(contextOf(material));
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

/**
 * The secure context options of `material`. The version and cipher policy is repeated here because
 * Node's `setSecureContext` (a rotation) rebuilds the context from these options alone: without
 * them a rotated certificate would be served with Node's wider defaults.
 */
function contextOf(material: TlsMaterial): SecureContextOptions {
  return {
    minVersion: TLS_POLICY.minVersion,
    ciphers: TLS_POLICY.ciphers,
    honorCipherOrder: TLS_POLICY.honorCipherOrder,
    cert: material.cert,
    key: material.key,
    ...(material.clientCa === undefined ? {} : { ca: material.clientCa }),
  };
}
