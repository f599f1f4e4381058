/**
 * A gRPC call written by hand on `node:http2`, for bytes no gRPC library would send: each message
 * is framed as gRPC does (a 1-byte compressed flag, a 4-byte big-endian length, the bytes) but never
 * encoded, so a test can put undecodable protobuf on the wire. Cleartext (h2c) only.
 */
import * as http2 from "node:http2";
import { connect } from "node:net";
import { type CallStatus, type StatusCode, status } from "./grpc-client.ts";

/** What the server answered: the raw reply messages and the final status. */
export interface RawCallResult {
  readonly messages: Buffer[];
  readonly status: CallStatus;
}

/** The gRPC framing of one uncompressed message. */
export function frame(message: Uint8Array): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** Splits the bytes of a response body into its messages. */
function unframe(body: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  let offset = 0;
  while (offset + 5 <= body.length) {
    const length = body.readUInt32BE(offset + 1);
    messages.push(body.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return messages;
}

function decodeMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Calls `path` on `target` (`host:port` or `unix:/path`) with `messages` sent as they are, then
 * half-closes and reads the status from the trailers (or from the headers of a trailers-only
 * response). A stream that ends without `grpc-status` reports UNKNOWN (INTERNAL when reset).
 */
export function rawCall(
  target: string,
  path: string,
  messages: Uint8Array[],
  metadata: Readonly<Record<string, string>> = {},
): Promise<RawCallResult> {
  const session = http2.connect("http://localhost", {
    createConnection: () =>
      target.startsWith("unix:")
        ? connect(target.slice("unix:".length))
        : connect(
            Number(target.slice(target.lastIndexOf(":") + 1)),
            target.slice(0, target.lastIndexOf(":")),
          ),
  });
  return new Promise<RawCallResult>((resolve, reject) => {
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...metadata,
    });
    let grpcStatus: string | undefined;
    let grpcMessage = "";
    const read = (headers: http2.IncomingHttpHeaders) => {
      const code = headers["grpc-status"];
      if (typeof code === "string") {
        grpcStatus = code;
        const message = headers["grpc-message"];
        grpcMessage = typeof message === "string" ? decodeMessage(message) : "";
      }
    };
    stream.on("response", read);
    stream.on("trailers", read);
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {}); // a reset is reported through the status below
    stream.on("close", () => {
      const code =
        grpcStatus !== undefined
          ? Number(grpcStatus)
          : stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR
            ? status.INTERNAL
            : status.UNKNOWN;
      resolve({
        messages: unframe(Buffer.concat(chunks)),
        status: { code: code as StatusCode, details: grpcMessage },
      });
    });
    for (const message of messages) stream.write(frame(message));
    stream.end();
  }).finally(() => session.close());
}
