/**
 * An ext_proc client on `@grpc/grpc-js`, independent of the server's Connect stack, that opens
 * streams the way Envoy does. Messages are encoded with the generated protobuf-es types; the
 * transport, framing and HTTP/2 are grpc-js's own.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type ProcessingRequest,
  ProcessingRequestSchema,
  type ProcessingResponse,
  ProcessingResponseSchema,
} from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";

const PROCESS = "/envoy.service.ext_proc.v3.ExternalProcessor/Process";

/** How to reach the processor. */
export interface ClientOptions {
  /** PEM CA that signed the server certificate; cleartext (h2c) when absent. */
  ca?: string;
  /** TLS server name (SNI) and authority; Envoy's cluster uses `localhost`. */
  serverName?: string;
  /** Accept any server certificate (Envoy's default UpstreamTlsContext does not verify). */
  insecureSkipVerify?: boolean;
}

/** Creates a grpc-js client for `target` (`host:port` or `unix:/path`). */
export function createClient(target: string, options: ClientOptions = {}): grpc.Client {
  const serverName = options.serverName ?? "localhost";
  const credentials =
    options.ca !== undefined || options.insecureSkipVerify
      ? grpc.credentials.createSsl(
          options.ca ? Buffer.from(options.ca) : null,
          null,
          null,
          options.insecureSkipVerify ? { rejectUnauthorized: false } : {},
        )
      : grpc.credentials.createInsecure();
  return new grpc.Client(target, credentials, {
    "grpc.ssl_target_name_override": serverName,
    "grpc.default_authority": serverName,
    "grpc.max_send_message_length": -1,
    "grpc.max_receive_message_length": -1,
  });
}

/** What reading the next reply gives. */
export type Next =
  | { kind: "message"; message: ProcessingResponse }
  | { kind: "end"; status: grpc.StatusObject };

/** One ext_proc stream as a test drives it. */
export interface ExtProcStream {
  send(message: ProcessingRequest): void;
  /** The next reply, or the end of the call with its status. */
  next(timeoutMs?: number): Promise<Next>;
  /** Half-closes our side, as Envoy does when the HTTP exchange is over. */
  end(): void;
  /** Cancels the call (RST_STREAM), as Envoy does when the downstream resets. */
  cancel(): void;
  /** The final status, once the call ended. */
  readonly status: Promise<grpc.StatusObject>;
}

/** Opens a Process stream with the given gRPC metadata (e.g. x-datadog-envoy-integration). */
export function openStream(
  client: grpc.Client,
  metadata: Record<string, string> = { "x-datadog-envoy-integration": "1" },
  deadlineMs?: number,
): ExtProcStream {
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  const call = client.makeBidiStreamRequest(
    PROCESS,
    (message: ProcessingRequest) => Buffer.from(toBinary(ProcessingRequestSchema, message)),
    (bytes: Buffer) => fromBinary(ProcessingResponseSchema, bytes),
    md,
    deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs },
  );
  const queue: Next[] = [];
  const waiters: Array<(next: Next) => void> = [];
  const push = (next: Next) => {
    const waiter = waiters.shift();
    if (waiter) waiter(next);
    else queue.push(next);
  };
  let resolveStatus: (status: grpc.StatusObject) => void = () => {};
  const status = new Promise<grpc.StatusObject>((resolve) => {
    resolveStatus = resolve;
  });
  call.on("data", (message: ProcessingResponse) => push({ kind: "message", message }));
  call.on("status", (final: grpc.StatusObject) => {
    resolveStatus(final);
    push({ kind: "end", status: final });
  });
  call.on("error", () => {}); // the status event carries the error
  return {
    send: (message) => call.write(message),
    next(timeoutMs = 5000) {
      const ready = queue.shift();
      if (ready) {
        if (ready.kind === "end") queue.unshift(ready); // end stays readable
        return Promise.resolve(ready);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no reply within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push((next) => {
          clearTimeout(timer);
          if (next.kind === "end") queue.unshift(next);
          resolve(next);
        });
      });
    },
    end: () => call.end(),
    cancel: () => call.cancel(),
    status,
  };
}

/** Sends `message` and returns the reply, failing if the stream ends instead. */
export async function exchange(
  stream: ExtProcStream,
  message: ProcessingRequest,
): Promise<ProcessingResponse> {
  stream.send(message);
  const next = await stream.next();
  if (next.kind === "end")
    throw new Error(`stream ended with ${grpc.status[next.status.code]}: ${next.status.details}`);
  return next.message;
}

export { grpc };
