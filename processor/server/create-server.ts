/**
 * Builds the (unstarted) gRPC server: Connect's gRPC protocol only, on Node's HTTP/2 server, with
 * TLS or cleartext (h2c, for unix sockets and local tests). `main.ts` listens; tests call this and
 * listen on port 0.
 */
import {
  createServer as createH2cServer,
  createSecureServer,
  type Http2SecureServer,
  type Http2Server,
} from "node:http2";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { DEFAULT_KEEPALIVE, enableKeepalive, type KeepaliveOptions } from "./keepalive.ts";
import type { TlsMaterial } from "./tls.ts";

/** Options of {@link createServer}. */
export interface CreateServerOptions {
  readonly routes: (router: ConnectRouter) => void;
  /** Serve TLS with this material; cleartext HTTP/2 when absent. */
  readonly tls?: TlsMaterial;
  /** Per-connection HTTP/2 stream limit: Envoy opens one stream per HTTP request. */
  readonly maxConcurrentStreams: number;
  /** Largest gRPC message accepted, in bytes (above the body limit: a BUFFERED body is one message). */
  readonly readMaxBytes: number;
  /** Aborting it asks open streams to finish (Connect cancels their contexts). */
  readonly shutdownSignal?: AbortSignal;
  /** HTTP/2 ping keepalive; {@link DEFAULT_KEEPALIVE} when absent. */
  readonly keepalive?: KeepaliveOptions;
}

/** The server kinds {@link createServer} returns. */
export type GrpcServer = Http2Server | Http2SecureServer;

/** Creates the gRPC server without listening. */
export function createServer(options: CreateServerOptions): GrpcServer {
  const handler = connectNodeAdapter({
    routes: options.routes,
    grpc: true,
    grpcWeb: false,
    connect: false,
    readMaxBytes: options.readMaxBytes,
    ...(options.shutdownSignal ? { shutdownSignal: options.shutdownSignal } : {}),
  });
  const settings = { maxConcurrentStreams: options.maxConcurrentStreams };
  const server = options.tls
    ? createSecureServer(
        {
          cert: options.tls.cert,
          key: options.tls.key,
          allowHTTP1: false,
          settings,
          minVersion: "TLSv1.2",
        },
        handler,
      )
    : createH2cServer({ settings }, handler);
  enableKeepalive(server, options.keepalive ?? DEFAULT_KEEPALIVE);
  return server;
}
