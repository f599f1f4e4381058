/**
 * The gateway's listener: HTTP/1.1 and cleartext HTTP/2 (prior knowledge, as
 * `curl --http2-prior-knowledge` speaks it) on one 127.0.0.1 port. The first bytes of a connection
 * tell them apart: an HTTP/2 connection starts with the `PRI * HTTP/2.0` preface.
 */
import { createServer as createHttp1, type IncomingMessage, type ServerResponse } from "node:http";
import {
  constants,
  createServer as createHttp2,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import { createServer as createTcp, type Server, type Socket } from "node:net";
import { Duplex } from "node:stream";

/** A request as the gateway handles it, whatever the protocol. */
export interface FrontRequest {
  method: string;
  path: string;
  authority: string;
  headers: Array<[string, string]>;
  body: Uint8Array;
  protocol: "1.1" | "2";
}

/** What to answer. `reset` aborts the response (Envoy resets when it cannot answer cleanly). */
export interface FrontResponse {
  status: number;
  headers: Array<[string, string]>;
  body: Uint8Array;
  reset?: boolean;
}

/** Handles one request. */
export type FrontHandler = (request: FrontRequest) => Promise<FrontResponse>;

const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "content-length",
  "host",
]);

async function readRequest(
  req: IncomingMessage | Http2ServerRequest,
  protocol: "1.1" | "2",
): Promise<FrontRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.push([name, one]);
  }
  const authority = req.headers[":authority"] ?? req.headers.host ?? "localhost";
  return {
    method: req.method ?? "GET",
    path: req.url ?? "/",
    authority: String(authority),
    headers,
    body: Buffer.concat(chunks),
    protocol,
  };
}

function writeResponse(res: ServerResponse | Http2ServerResponse, response: FrontResponse): void {
  if (response.reset) {
    if ("stream" in res) res.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    else res.socket?.destroy();
    return;
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) {
    if (CONNECTION_SPECIFIC.has(name)) continue;
    const current = headers[name];
    headers[name] =
      current === undefined ? value : [...(Array.isArray(current) ? current : [current]), value];
  }
  headers["content-length"] = String(response.body.length);
  if ("stream" in res) res.writeHead(response.status, headers).end(response.body);
  else res.writeHead(response.status, headers).end(response.body);
}

/** Starts the listener on 127.0.0.1:`port` (0 for an ephemeral port). */
export async function startFront(
  port: number,
  handle: FrontHandler,
): Promise<{ port: number; server: Server }> {
  const serve =
    (protocol: "1.1" | "2") =>
    (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
      readRequest(req, protocol)
        .then(handle)
        .then((response) => writeResponse(res, response))
        .catch((error: unknown) => {
          process.stderr.write(
            `gateway: ${error instanceof Error ? error.stack : String(error)}\n`,
          );
          if (!res.headersSent)
            writeResponse(res, { status: 502, headers: [], body: Buffer.from("bad gateway\n") });
        });
    };
  const http1 = createHttp1(serve("1.1"));
  const http2 = createHttp2(serve("2"));
  const server = createTcp((socket) => {
    socket.once("data", (first) => {
      socket.pause();
      if (first.subarray(0, 3).toString("latin1") === "PRI") {
        http2.emit("connection", replay(socket, first));
      } else {
        socket.unshift(first);
        http1.emit("connection", socket);
        socket.resume();
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  return { port: typeof address === "object" && address ? address.port : port, server };
}

/**
 * The socket as a plain Duplex that first yields `first`. Node's HTTP/2 server reads a real socket
 * from its native handle, past what JavaScript already consumed; a plain Duplex makes it read
 * through JavaScript, so the sniffed bytes are not lost.
 */
function replay(socket: Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  duplex.push(first);
  socket.on("data", (chunk) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on("end", () => duplex.push(null));
  socket.on("close", () => duplex.destroy());
  return duplex;
}
