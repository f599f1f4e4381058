/**
 * An ext_proc client on `@connectrpc/connect-node` (the gRPC protocol over `node:http2`) that
 * opens streams the way Envoy does. The project has two gRPC stacks, `@grpc/grpc-js` and Connect:
 * the processor serves on one and the tests play Envoy on the other, so every test crosses two
 * independent implementations of framing, HTTP/2 and status handling.
 *
 * One client is one HTTP/2 connection (an `Http2SessionManager` we own), multiplexing all of its
 * streams as Envoy's cluster connection does; `close()` tears that connection down. The connection
 * sends no keepalive pings and never closes on idleness, so it only ends when the test or the
 * server ends it, and message sizes are not limited (Connect's default is ~4 GiB).
 */
import type * as http2 from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import {
  Code,
  type Client as ConnectClient,
  ConnectError,
  createClient as createConnectClient,
  type Interceptor,
} from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  ExternalProcessor,
  type ProcessingRequest,
  type ProcessingResponse,
} from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { Health } from "../../processor/gen/grpc/health/v1/health_pb.ts";

/** gRPC status codes (the numbers of the gRPC spec, which Connect's `Code` shares). */
export const status = {
  OK: 0,
  CANCELLED: Code.Canceled,
  UNKNOWN: Code.Unknown,
  INVALID_ARGUMENT: Code.InvalidArgument,
  DEADLINE_EXCEEDED: Code.DeadlineExceeded,
  NOT_FOUND: Code.NotFound,
  ALREADY_EXISTS: Code.AlreadyExists,
  PERMISSION_DENIED: Code.PermissionDenied,
  RESOURCE_EXHAUSTED: Code.ResourceExhausted,
  FAILED_PRECONDITION: Code.FailedPrecondition,
  ABORTED: Code.Aborted,
  OUT_OF_RANGE: Code.OutOfRange,
  UNIMPLEMENTED: Code.Unimplemented,
  INTERNAL: Code.Internal,
  UNAVAILABLE: Code.Unavailable,
  DATA_LOSS: Code.DataLoss,
  UNAUTHENTICATED: Code.Unauthenticated,
} as const;

/** A gRPC status code; 0 is OK. */
export type StatusCode = (typeof status)[keyof typeof status];

/** The gRPC name of `code`, e.g. `INVALID_ARGUMENT`. */
export function statusName(code: number): string {
  return Object.entries(status).find(([, value]) => value === code)?.[0] ?? `code ${code}`;
}

/** How a call ended: its gRPC status code and message (`grpc-message`). */
export interface CallStatus {
  readonly code: StatusCode;
  readonly details: string;
}

/** The status a failed call reports (a ConnectError, or anything thrown while calling). */
export function statusOf(error: unknown): CallStatus {
  const connectError = ConnectError.from(error);
  return { code: connectError.code, details: connectError.rawMessage };
}

/** How to reach the processor. */
export interface ClientOptions {
  /** PEM CA that signed the server certificate; cleartext (h2c) when absent. */
  ca?: string;
  /** TLS server name (SNI) and authority; Envoy's cluster uses `localhost`. */
  serverName?: string;
  /** Accept any server certificate (Envoy's default UpstreamTlsContext does not verify). */
  insecureSkipVerify?: boolean;
  /** Client certificate and key (PEM) presented for mutual TLS. */
  clientCertificate?: { cert: string; key: string };
}

/** A gRPC client: one HTTP/2 connection to the processor, shared by all of its calls. */
export interface Client {
  /** `host:port` or `unix:/path`. */
  readonly target: string;
  /** The ext_proc service. */
  readonly processor: ConnectClient<typeof ExternalProcessor>;
  /** grpc.health.v1. */
  readonly health: ConnectClient<typeof Health>;
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** Closes the connection, cancelling any call still open on it. */
  close(): void;
}

/** The socket to `target`: TCP `host:port` (IPv6 in brackets) or `unix:/path`. */
function dial(target: string, options: ClientOptions, serverName: string): Socket {
  const where = target.startsWith("unix:")
    ? { path: target.slice("unix:".length).replace(/^\/\/(?=\/)/, "") }
    : (() => {
        const colon = target.lastIndexOf(":");
        return {
          host: target.slice(0, colon).replace(/^\[(.*)\]$/, "$1"),
          port: Number(target.slice(colon + 1)),
        };
      })();
  if (options.ca === undefined && !options.insecureSkipVerify) return netConnect(where);
  const socket = tlsConnect({
    ...where,
    servername: serverName,
    ALPNProtocols: ["h2"],
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    rejectUnauthorized: !options.insecureSkipVerify,
    ...(options.clientCertificate ?? {}),
  });
  // Remember what made the handshake fail (see refusedAsUnavailable).
  const onError = (error: Error) => handshakeFailures.add(error);
  socket.once("error", onError);
  socket.once("secureConnect", () => socket.off("error", onError));
  return socket;
}

/** Errors of TLS connections that failed before their handshake completed. */
const handshakeFailures = new WeakSet<object>();

/**
 * A call that failed because its TLS connection could not be established (e.g. the server
 * certificate was refused) reports UNAVAILABLE, as gRPC clients and Envoy report a connection that
 * could not be made; connect-node reports TLS errors as INTERNAL (it maps only refused, unresolved
 * and timed-out connections to UNAVAILABLE).
 */
const refusedAsUnavailable: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (error) {
    let cause: unknown = error;
    for (let depth = 0; depth < 8 && cause instanceof Error; depth++) {
      if (handshakeFailures.has(cause)) break;
      cause = cause.cause;
    }
    if (!(cause instanceof Error) || !handshakeFailures.has(cause)) throw error;
    throw new ConnectError(
      `connection failed: ${cause.message}`,
      Code.Unavailable,
      undefined,
      undefined,
      error,
    );
  }
};

/** Creates a client for `target` (`host:port` or `unix:/path`); nothing connects until a call. */
export function createClient(target: string, options: ClientOptions = {}): Client {
  const serverName = options.serverName ?? "localhost";
  const tls = options.ca !== undefined || options.insecureSkipVerify === true;
  // The URL only gives the scheme and the :authority (the server name, with node's default port:
  // `localhost:443` or `localhost:80`); `createConnection` decides where the bytes go.
  const baseUrl = `${tls ? "https" : "http"}://${serverName}`;
  const nodeOptions: http2.SecureClientSessionOptions = {
    createConnection: () => dial(target, options, serverName),
    // No session memory cap (node's default is 10 MB), as grpc-js does, and no stream limit of
    // our own (node assumes 100 until the server's SETTINGS arrive), as Envoy does.
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
    peerMaxConcurrentStreams: 2 ** 31 - 1,
  };
  const sessionManager = new Http2SessionManager(
    baseUrl,
    {
      pingIntervalMs: Number.POSITIVE_INFINITY, // no client keepalive pings
      idleConnectionTimeoutMs: Number.POSITIVE_INFINITY, // never closed for idleness
    },
    nodeOptions,
  );
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager,
    readMaxBytes: 0xffffffff,
    writeMaxBytes: 0xffffffff,
    acceptCompression: [], // Envoy asks for no response compression
    interceptors: tls ? [refusedAsUnavailable] : [],
  });
  let closed = false;
  return {
    target,
    processor: createConnectClient(ExternalProcessor, transport),
    health: createConnectClient(Health, transport),
    get closed() {
      return closed;
    },
    close() {
      closed = true;
      sessionManager.abort();
    },
  };
}

/** The request side of a call: a queue the transport pulls messages from. */
class Outbox implements AsyncIterator<ProcessingRequest>, AsyncIterable<ProcessingRequest> {
  readonly #queue: ProcessingRequest[] = [];
  #ended = false;
  #waiter: ((result: IteratorResult<ProcessingRequest>) => void) | undefined;

  push(message: ProcessingRequest): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter({ done: false, value: message });
    else this.#queue.push(message);
  }

  /** No more messages: once the queue drains, the transport half-closes. */
  end(): void {
    this.#ended = true;
    if (this.#queue.length === 0) this.#finish();
  }

  #finish(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ done: true, value: undefined });
  }

  next(): Promise<IteratorResult<ProcessingRequest>> {
    const message = this.#queue.shift();
    if (message !== undefined) return Promise.resolve({ done: false, value: message });
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** The call is over (Connect calls this when it ends): drop what is queued. */
  return(): Promise<IteratorResult<ProcessingRequest>> {
    this.#ended = true;
    this.#queue.length = 0;
    this.#finish();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** The call failed (Connect calls this when it aborts): drop what is queued, as a generator would. */
  throw(error: unknown): Promise<IteratorResult<ProcessingRequest>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterator<ProcessingRequest> {
    return this;
  }
}

/** What a call reports, in order: each reply, then its end exactly once. */
export interface CallHandlers {
  onMessage(message: ProcessingResponse): void;
  onEnd(status: CallStatus): void;
}

/** A running Process call. */
export interface ProcessCall {
  /** Queues a message; ignored once the call is half-closed or over. */
  write(message: ProcessingRequest): void;
  /** Half-closes the request side (END_STREAM after the queued messages). */
  end(): void;
  /** Cancels the call: RST_STREAM(CANCEL); the call ends with CANCELLED. */
  cancel(): void;
}

/**
 * Starts a Process call with `metadata` as gRPC request headers and, when `deadlineMs` is given,
 * a deadline: sent as `grpc-timeout`, and when it passes first the call is reset like a
 * cancellation (RST_STREAM CANCEL, as grpc-js does; Connect's own `timeoutMs` would reset with
 * INTERNAL_ERROR) and ends with DEADLINE_EXCEEDED.
 */
export function startProcessCall(
  client: Client,
  metadata: Readonly<Record<string, string>>,
  deadlineMs: number | undefined,
  handlers: CallHandlers,
): ProcessCall {
  if (client.closed) throw new Error("the client is closed");
  const outbox = new Outbox();
  const abort = new AbortController();
  let deadlinePassed = false;
  const deadline =
    deadlineMs === undefined
      ? undefined
      : setTimeout(() => {
          deadlinePassed = true;
          abort.abort(new ConnectError("deadline exceeded", Code.Canceled));
        }, deadlineMs);
  const replies = client.processor.process(outbox, {
    headers: {
      ...metadata,
      ...(deadlineMs === undefined
        ? {}
        : { "grpc-timeout": `${Math.max(1, Math.ceil(deadlineMs))}m` }),
    },
    signal: abort.signal,
  });
  void (async () => {
    let end: CallStatus = { code: status.OK, details: "" };
    try {
      for await (const message of replies) handlers.onMessage(message);
    } catch (error) {
      end = statusOf(error);
      if (deadlinePassed && end.code === status.CANCELLED) {
        end = { code: status.DEADLINE_EXCEEDED, details: "deadline exceeded" };
      }
    }
    clearTimeout(deadline);
    handlers.onEnd(end);
  })();
  return {
    write: (message) => outbox.push(message),
    end: () => outbox.end(),
    cancel: () => abort.abort(new ConnectError("cancelled by the client", Code.Canceled)),
  };
}

/** What reading the next reply gives. */
export type Next =
  | { kind: "message"; message: ProcessingResponse }
  | { kind: "end"; status: CallStatus };

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
  readonly status: Promise<CallStatus>;
}

/** Opens a Process stream with the given gRPC metadata (e.g. x-datadog-envoy-integration). */
export function openStream(
  client: Client,
  metadata: Record<string, string> = { "x-datadog-envoy-integration": "1" },
  deadlineMs?: number,
): ExtProcStream {
  const queue: Next[] = [];
  const waiters: Array<(next: Next) => void> = [];
  const push = (next: Next) => {
    const waiter = waiters.shift();
    if (waiter) waiter(next);
    else queue.push(next);
  };
  let resolveStatus: (status: CallStatus) => void = () => {};
  const status = new Promise<CallStatus>((resolve) => {
    resolveStatus = resolve;
  });
  const call = startProcessCall(client, metadata, deadlineMs, {
    onMessage: (message) => push({ kind: "message", message }),
    onEnd: (final) => {
      resolveStatus(final);
      push({ kind: "end", status: final });
    },
  });
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

/**
 * Sends `message` and returns the reply, failing if the stream ends instead or if no reply comes
 * within `timeoutMs` (a guard against hangs, not a latency budget).
 */
export async function exchange(
  stream: ExtProcStream,
  message: ProcessingRequest,
  timeoutMs?: number,
): Promise<ProcessingResponse> {
  stream.send(message);
  const next = await stream.next(timeoutMs);
  if (next.kind === "end")
    throw new Error(`stream ended with ${statusName(next.status.code)}: ${next.status.details}`);
  return next.message;
}
