/**
 * An HTTP exchange through Envoy's ext_proc filter: the request direction, the upstream call, the
 * response direction, and the local replies Envoy would give the user instead.
 *
 * Simplifications, each harmless for a server that answers in order: the request is fully processed
 * before the upstream is called (Envoy may see response headers before the request body ends), and
 * STREAMED chunks wait for their reply one at a time (Envoy queues them behind a watermark).
 */
import type { Client } from "../grpc-client.ts";
import {
  type LocalOutcome,
  type Message,
  observeDirection,
  plainReply,
  processDirection,
} from "./direction.ts";
import { type HeaderList, type HeadersInit, headerList, headerValue } from "./headers.ts";
import { type Failure, FilterRun } from "./run.ts";
import type { FilterSettings } from "./settings.ts";
import type { StreamEnd } from "./stream.ts";

/** The downstream request. */
export interface HttpRequest {
  method: string;
  /** Path and query, e.g. `/search?q=1`. */
  path: string;
  headers?: HeadersInit;
  body?: Uint8Array | string;
  trailers?: HeadersInit;
  /** Size of the chunks the body arrives in (default 16 KiB). */
  chunkSize?: number;
  /** The body ends with an empty end-of-stream chunk (HTTP/1 chunked upload). */
  emptyEndChunk?: boolean;
  /** Default `http`. */
  scheme?: string;
  /** Default: the `host` header, else `localhost`. */
  authority?: string;
}

/** The request as the upstream receives it. */
export interface ForwardedRequest {
  method: string;
  path: string;
  authority: string;
  /** Regular headers (no pseudo-headers), mutations applied. */
  headers: HeaderList;
  body: Uint8Array;
  trailers: HeaderList | undefined;
  /** Content-Length was removed: an HTTP/1 upstream gets chunked encoding. */
  chunked: boolean;
}

/** What the upstream answers. */
export interface UpstreamResponse {
  status: number;
  headers?: HeadersInit;
  body?: Uint8Array | string;
  trailers?: HeadersInit;
}

/** The upstream: the backend behind Envoy. */
export type Upstream = (request: ForwardedRequest) => Promise<UpstreamResponse>;

/** One exchange: the request and the backend that answers it. */
export interface HttpExchange {
  request: HttpRequest;
  upstream: Upstream;
  /** Size of the response body chunks (default 16 KiB). */
  responseChunkSize?: number;
}

/** What the downstream user gets, and what happened on the way. */
export interface ExchangeResult {
  status: number;
  /** Regular response headers (no `:status`). */
  headers: HeaderList;
  body: Uint8Array;
  /** The body as UTF-8. */
  text: string;
  /** The upstream got the whole request. */
  reachedUpstream: boolean;
  forwardedRequest: ForwardedRequest | undefined;
  /** The upstream got the headers (and some chunks) of a request that Envoy then reset. */
  abortedUpstream: { headers: HeaderList; body: Uint8Array } | undefined;
  /** Set when Envoy answered itself. */
  localReply: LocalOutcome["reason"] | undefined;
  /** The response had started when Envoy had to stop it: the downstream sees a reset. */
  reset: boolean;
  /** Why the filter gave up on the server, if it did. */
  failure: Failure | undefined;
  /** The failure was ignored because of failure_mode_allow. */
  failedOpen: boolean;
  /** The server ended the stream cleanly before the exchange was over. */
  serverClosed: boolean;
  /** ImmediateResponse.details (RESPONSE_CODE_DETAILS). */
  details: string | undefined;
  /** Kinds of the messages sent, in order (`requestHeaders`, `requestBody`, ...). */
  sent: string[];
  messagesSent: number;
  repliesReceived: number;
  /** Resolves when the gRPC stream is over (immediately undefined when none was opened). */
  streamEnd: Promise<StreamEnd | undefined>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (body: Uint8Array | string | undefined) =>
  typeof body === "string" ? encoder.encode(body) : (body ?? new Uint8Array());

function requestMessage(request: HttpRequest): Message {
  const regular = headerList(request.headers).filter(([name]) => !name.startsWith(":"));
  const authority = request.authority ?? headerValue(regular, "host") ?? "localhost";
  return {
    headers: [
      [":method", request.method],
      [":scheme", request.scheme ?? "http"],
      [":authority", authority],
      [":path", request.path],
      ...regular.filter(([name]) => name !== "host"),
    ],
    body: bytes(request.body),
    trailers: request.trailers === undefined ? undefined : headerList(request.trailers),
    chunkSize: request.chunkSize ?? 16 * 1024,
    emptyEndChunk: request.emptyEndChunk ?? false,
  };
}

function forwarded(
  headers: HeaderList,
  body: Uint8Array,
  trailers: HeaderList | undefined,
  chunked: boolean,
): ForwardedRequest {
  return {
    method: headerValue(headers, ":method") ?? "GET",
    path: headerValue(headers, ":path") ?? "/",
    authority: headerValue(headers, ":authority") ?? "",
    headers: headers.filter(([name]) => !name.startsWith(":")),
    body,
    trailers,
    chunked,
  };
}

function responseMessage(response: UpstreamResponse, chunkSize: number): Message {
  return {
    headers: [[":status", String(response.status)], ...headerList(response.headers)],
    body: bytes(response.body),
    trailers: response.trailers === undefined ? undefined : headerList(response.trailers),
    chunkSize,
    emptyEndChunk: false,
  };
}

/** Drives exchanges through one filter configuration over one gRPC channel. */
export class EnvoyFilter {
  readonly settings: FilterSettings;
  readonly #client: Client;

  constructor(client: Client, settings: FilterSettings) {
    this.#client = client;
    this.settings = settings;
  }

  /** Runs one HTTP exchange as Envoy would. */
  async exchange(exchange: HttpExchange): Promise<ExchangeResult> {
    const run = new FilterRun(this.#client, this.settings);
    const chunkSize = exchange.responseChunkSize ?? 16 * 1024;
    const request = requestMessage(exchange.request);
    if (this.settings.observabilityMode) return this.#observe(run, exchange, request, chunkSize);

    const req = await processDirection(run, "request", request);
    if (req.kind === "local") {
      return this.#result(run, { ...req, reset: false }, { abortedUpstream: req.released });
    }
    const spurious = run.checkSpurious();
    if (spurious?.kind === "fail") {
      return this.#result(run, { ...plainReply("failure", spurious.status), reset: false }, {});
    }
    const forwardedRequest = forwarded(req.headers, req.body, req.trailers, req.chunked);
    const upstream = await callUpstream(exchange.upstream, forwardedRequest);
    const late = run.checkSpurious();
    if (late?.kind === "fail") {
      return this.#result(
        run,
        { ...plainReply("failure", late.status), reset: false },
        { forwardedRequest },
      );
    }
    const res = await processDirection(run, "response", responseMessage(upstream, chunkSize));
    if (res.kind === "local") {
      // Once the response headers went downstream, Envoy can only reset the stream
      // (docs/envoy-filter.md#replies).
      const started = res.released;
      const reply = started
        ? {
            status: statusOf(started.headers),
            headers: started.headers,
            body: started.body,
            reset: true,
          }
        : { ...res, reset: false };
      return this.#result(run, { ...res, ...reply }, { forwardedRequest });
    }
    return this.#result(
      run,
      { status: statusOf(res.headers), headers: res.headers, body: res.body, reset: false },
      { forwardedRequest },
    );
  }

  async #observe(run: FilterRun, exchange: HttpExchange, request: Message, chunkSize: number) {
    // Send-and-go: nothing is awaited, nothing is applied, the stream outlives the exchange.
    observeDirection(run, "request", request);
    const forwardedRequest = forwarded(request.headers, request.body, request.trailers, false);
    const upstream = await callUpstream(exchange.upstream, forwardedRequest);
    const response = responseMessage(upstream, chunkSize);
    observeDirection(run, "response", response);
    return this.#result(
      run,
      { status: upstream.status, headers: response.headers, body: response.body, reset: false },
      { forwardedRequest },
    );
  }

  #result(
    run: FilterRun,
    reply: {
      status: number;
      headers: HeaderList;
      body: Uint8Array;
      reset: boolean;
      reason?: LocalOutcome["reason"];
      details?: string | undefined;
    },
    extra: { forwardedRequest?: ForwardedRequest; abortedUpstream?: LocalOutcome["released"] },
  ): ExchangeResult {
    const stream = run.stream;
    const observability = this.settings.observabilityMode;
    // Envoy half-closes when done; in observability mode it keeps the stream open up to
    // deferred_close_timeout and then resets it (docs/envoy-filter.md#observability-mode).
    const streamEnd = stream
      ? observability
        ? stream.finish(this.settings.deferredCloseTimeoutMs, false)
        : stream.finish(1000)
      : Promise.resolve(undefined);
    return {
      status: reply.status,
      headers: reply.headers.filter(([name]) => !name.startsWith(":")),
      body: reply.body,
      text: decoder.decode(reply.body),
      reachedUpstream:
        extra.forwardedRequest !== undefined &&
        !(reply.reason === "failure" && extra.forwardedRequest === undefined),
      forwardedRequest: extra.forwardedRequest,
      abortedUpstream: extra.abortedUpstream,
      localReply: reply.reset ? undefined : reply.reason,
      reset: reply.reset,
      failure: run.failure,
      failedOpen: run.failedOpen,
      serverClosed: run.serverClosed,
      details: reply.details,
      sent: stream?.sent.map((message) => message.request.case ?? "none") ?? [],
      messagesSent: stream?.sent.length ?? 0,
      repliesReceived: stream?.repliesReceived ?? 0,
      streamEnd,
    };
  }
}

function statusOf(headers: HeaderList): number {
  return Number(headerValue(headers, ":status") ?? 0);
}

async function callUpstream(
  upstream: Upstream,
  request: ForwardedRequest,
): Promise<UpstreamResponse> {
  try {
    return await upstream(request);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      status: 503,
      headers: { "content-type": "text/plain" },
      body: `upstream error: ${message}`,
    };
  }
}
