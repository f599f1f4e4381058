/**
 * Refusing a stream before grpc-js sees it. grpc-js builds a call for every stream (metadata,
 * interceptors, a deserializer reading the first message) before a handler can refuse it; under
 * overload that is work spent on a stream that will not be served. A gate runs first, on the
 * HTTP/2 stream itself: a refused stream gets a gRPC Trailers-Only response (one HEADERS frame
 * with `grpc-status`) and an RST_STREAM telling the client to stop sending, and its message is
 * never read. Measured: about half the CPU of a refusal from the handler (docs/performance.md).
 *
 * grpc-js exposes no hook before its stream handler, so this reaches into one internal: the
 * HTTP/2 servers a grpc-js `Server` keeps in its `http2Servers` map. The version is pinned exactly
 * (package.json) and `installStreamGate` throws when the internal is missing, so an upgrade that
 * changes it fails the tests and the start, never shedding silently less cheaply or not at all.
 */
import type { Http2SecureServer, Http2Server, ServerHttp2Stream } from "node:http2";
import { type Server, status } from "@grpc/grpc-js";

/** Decides on a new stream: `undefined` lets grpc-js serve it; text refuses it, as its gRPC message. */
export type StreamGate = () => string | undefined;

type Http2Like = Http2Server | Http2SecureServer;
type StreamListener = (
  stream: ServerHttp2Stream,
  headers: Record<string, unknown>,
  ...rest: unknown[]
) => void;

/** The HTTP/2 server grpc-js created last (by `createConnectionInjector`), or undefined. */
function lastHttp2Server(grpc: Server): Http2Like | undefined {
  const servers = (grpc as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return undefined;
  const last: unknown = [...servers.keys()].at(-1);
  return typeof (last as Http2Like | undefined)?.listeners === "function"
    ? (last as Http2Like)
    : undefined;
}

/**
 * Puts `gates` (by method path, e.g. `/envoy.service.ext_proc.v3.ExternalProcessor/Process`) in
 * front of grpc-js's stream handler on the HTTP/2 server its last `createConnectionInjector`
 * made. Throws when grpc-js's internals are not what this expects.
 */
export function installStreamGate(grpc: Server, gates: ReadonlyMap<string, StreamGate>): void {
  const http2 = lastHttp2Server(grpc);
  const handlers = http2?.listeners("stream") as StreamListener[] | undefined;
  if (http2 === undefined || handlers === undefined || handlers.length === 0)
    throw new Error(
      "@grpc/grpc-js internals changed (no HTTP/2 server with a stream handler in Server.http2Servers): load shedding cannot refuse streams before grpc-js",
    );
  http2.removeAllListeners("stream");
  http2.on(
    "stream",
    (stream: ServerHttp2Stream, headers: Record<string, unknown>, ...rest: unknown[]) => {
      const gate = gates.get(String(headers[":path"]));
      const refusal = gate?.();
      if (refusal === undefined) {
        for (const handler of handlers) handler.call(http2, stream, headers, ...rest);
        return;
      }
      refuse(stream, refusal);
    },
  );
}

/** Answers RESOURCE_EXHAUSTED at once, Trailers-Only, and stops the client's request stream. */
function refuse(stream: ServerHttp2Stream, message: string): void {
  // A stream reset by the peer meanwhile errors here; there is nothing left to tell it.
  stream.on("error", () => {});
  if (stream.destroyed || stream.closed) return;
  stream.respond(
    {
      ":status": 200,
      "content-type": "application/grpc",
      "grpc-status": String(status.RESOURCE_EXHAUSTED),
      "grpc-message": encodeURIComponent(message),
    },
    { endStream: true },
  );
  stream.close();
}
