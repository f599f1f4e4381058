/**
 * One direction (request or response) of an exchange through the filter: headers, body chunks in
 * the effective body mode, trailers, and the mutations of each reply (docs/envoy-filter.md). The
 * request and response paths of Envoy's filter are symmetric; only the names and the
 * buffer-overflow status differ.
 */
import { create } from "@bufbuild/protobuf";
import {
  type BodyMutation,
  CommonResponse_ResponseStatus,
  HttpBodySchema,
  HttpHeadersSchema,
  HttpTrailersSchema,
  type ImmediateResponse,
  type ProcessingRequest,
  ProcessingRequestSchema,
} from "../../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import {
  applyHeaderMutation,
  type HeaderList,
  headerValue,
  removeHeader,
  setHeader,
  toHeaderMap,
} from "./headers.ts";
import type { Answer, FilterRun, ReplyKind } from "./run.ts";

/** Which way the message flows. */
export type Direction = "request" | "response";

/** One direction's message as it enters the filter. */
export interface Message {
  /** Pseudo-headers first (`:method`… or `:status`). */
  headers: HeaderList;
  body: Uint8Array;
  trailers: HeaderList | undefined;
  /** Size of the chunks the body arrives in (STREAMED sends one message per chunk). */
  chunkSize: number;
  /** The body ends with an empty end-of-stream chunk (HTTP/1 chunked, HTTP/2 empty DATA). */
  emptyEndChunk: boolean;
}

/** Why the filter answered locally instead of passing the message on. */
export type LocalReason = "immediate" | "failure" | "buffer-limit";

/** A local reply, plus what had already left Envoy in this direction before it. */
export interface LocalOutcome {
  kind: "local";
  reason: LocalReason;
  status: number;
  headers: HeaderList;
  body: Uint8Array;
  details: string | undefined;
  /** Headers (and body chunks) already passed on (STREAMED): Envoy then resets instead. */
  released: { headers: HeaderList; body: Uint8Array } | undefined;
}

/** The message passed on, with the mutations applied. */
export interface PassedOutcome {
  kind: "passed";
  headers: HeaderList;
  body: Uint8Array;
  trailers: HeaderList | undefined;
  /** Content-Length was removed (STREAMED, BUFFERED_PARTIAL): HTTP/1 peers get chunked encoding. */
  chunked: boolean;
}

const NAMES = {
  request: { headers: "requestHeaders", body: "requestBody", trailers: "requestTrailers" },
  response: { headers: "responseHeaders", body: "responseBody", trailers: "responseTrailers" },
} as const;

const encoder = new TextEncoder();

/** Builds the ProcessingRequest of `kind`. */
export function messageOf(
  direction: Direction,
  part: "headers" | "body" | "trailers",
  fields: { headers?: HeaderList; body?: Uint8Array; endOfStream?: boolean },
  observabilityMode = false,
): ProcessingRequest {
  const name = NAMES[direction][part];
  const value =
    part === "body"
      ? create(HttpBodySchema, {
          body: fields.body ?? new Uint8Array(),
          endOfStream: !!fields.endOfStream,
        })
      : part === "headers"
        ? create(HttpHeadersSchema, {
            headers: toHeaderMap(fields.headers ?? []),
            endOfStream: !!fields.endOfStream,
          })
        : create(HttpTrailersSchema, { trailers: toHeaderMap(fields.headers ?? []) });
  return create(ProcessingRequestSchema, {
    request: { case: name, value } as ProcessingRequest["request"],
    observabilityMode,
  });
}

/** Splits `body` into chunks of at most `size` bytes (at least one chunk). */
export function chunks(body: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < body.length; at += size) out.push(body.subarray(at, at + size));
  return out.length > 0 ? out : [body];
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** Applies a body mutation to `chunk`. */
function mutateBody(chunk: Uint8Array, mutation: BodyMutation | undefined): Uint8Array {
  const change = mutation?.mutation;
  if (change?.case === "body") return change.value;
  if (change?.case === "clearBody" && change.value) return new Uint8Array();
  return chunk;
}

/** The local reply Envoy builds from an ImmediateResponse. */
export function immediateReply(value: ImmediateResponse): Omit<LocalOutcome, "released"> {
  const code = value.status?.code ?? 200;
  const headers: HeaderList = [];
  applyHeaderMutation(headers, value.headers);
  removeHeader(headers, ":status");
  if (value.body.length > 0 && headerValue(headers, "content-type") === undefined) {
    headers.push(["content-type", "text/plain"]);
  }
  setHeader(headers, "content-length", String(value.body.length));
  return {
    kind: "local",
    reason: "immediate",
    status: code >= 200 ? code : 500,
    headers,
    body: value.body,
    details: value.details,
  };
}

/** A local reply with a plain-text body. */
export function plainReply(
  reason: LocalReason,
  status: number,
  text = "",
): Omit<LocalOutcome, "released"> {
  const body = encoder.encode(text);
  const headers: HeaderList = text === "" ? [] : [["content-type", "text/plain"]];
  headers.push(["content-length", String(body.length)]);
  return { kind: "local", reason, status, headers, body, details: undefined };
}

type Step = Omit<LocalOutcome, "released"> | undefined;

/** Turns an answer that ends the direction into its local reply. */
function stop<K extends ReplyKind>(answer: Answer<K>): Step {
  if (answer.kind === "immediate") return immediateReply(answer.value);
  if (answer.kind === "fail") return plainReply("failure", answer.status);
  return undefined;
}

/** Runs one direction through the filter (not in observability mode). */
export async function processDirection(
  run: FilterRun,
  direction: Direction,
  input: Message,
): Promise<LocalOutcome | PassedOutcome> {
  const names = NAMES[direction];
  const headers: HeaderList = input.headers.map(([k, v]) => [k, v]);
  const trailers = input.trailers?.map(([k, v]): [string, string] => [k, v]);
  let body = input.body;
  const hasBody = body.length > 0 || input.emptyEndChunk;
  const released = { headers: [] as HeaderList, body: [] as Uint8Array[], started: false };
  const local = (step: Omit<LocalOutcome, "released">): LocalOutcome => ({
    ...step,
    released: released.started
      ? { headers: released.headers, body: concat(released.body) }
      : undefined,
  });
  const mutate = (list: HeaderList, mutation: Parameters<typeof applyHeaderMutation>[1]) => {
    const error = applyHeaderMutation(list, mutation);
    if (error === undefined) return undefined;
    const answer = run.fail("invalid-mutation");
    return answer.kind === "fail" ? plainReply("failure", answer.status) : undefined;
  };

  // 1. Headers.
  const sendHeaders = run.modes[direction].headers;
  let replaced = false;
  if (sendHeaders && !run.done) {
    const endOfStream = !hasBody && trailers === undefined;
    const answer = await run.ask(
      messageOf(direction, "headers", { headers, endOfStream }),
      names.headers,
    );
    const ended = stop(answer);
    if (ended) return local(ended);
    if (answer.kind === "reply") {
      const common = answer.value.response;
      const bad = mutate(headers, common?.headerMutation);
      if (bad) return local(bad);
      if (common?.status === CommonResponse_ResponseStatus.CONTINUE_AND_REPLACE) {
        // Replaces the body and skips the remaining body and trailer messages
        // (docs/envoy-filter.md#replies).
        replaced = true;
        body = mutateBody(new Uint8Array(), common.bodyMutation);
        setHeader(headers, "content-length", String(body.length));
      }
    }
  }

  // 2. Body, in the mode in force after the header reply.
  const mode = run.done || replaced ? "NONE" : run.modes[direction].body;
  const chunked = hasBody && (mode === "STREAMED" || mode === "BUFFERED_PARTIAL");
  if (chunked || (hasBody && mode === "BUFFERED" && !sendHeaders))
    removeHeader(headers, "content-length");
  if (hasBody && mode === "STREAMED") {
    // Headers go on before the first chunk is answered.
    released.started = true;
    released.headers = headers.map(([k, v]) => [k, v]);
    const parts = body.length > 0 ? chunks(body, input.chunkSize) : [];
    if (input.emptyEndChunk) parts.push(new Uint8Array());
    for (const [index, chunk] of parts.entries()) {
      const endOfStream = index === parts.length - 1 && trailers === undefined;
      const answer = await run.ask(
        messageOf(direction, "body", { body: chunk, endOfStream }),
        names.body,
      );
      const ended = stop(answer);
      if (ended) return local(ended);
      // header_mutation on a STREAMED body reply has no effect: the headers are gone.
      released.body.push(
        answer.kind === "reply" ? mutateBody(chunk, answer.value.response?.bodyMutation) : chunk,
      );
    }
    body = concat(released.body);
  } else if (hasBody && (mode === "BUFFERED" || mode === "BUFFERED_PARTIAL")) {
    const limit = run.settings.bufferLimitBytes;
    if (mode === "BUFFERED" && body.length > limit) {
      // The server never hears of it (docs/envoy-filter.md#send-modes): 413 on requests, 500 on
      // responses.
      return local(
        direction === "request"
          ? plainReply("buffer-limit", 413, "Payload Too Large")
          : plainReply("buffer-limit", 500, "Internal Server Error"),
      );
    }
    const seen = body.subarray(0, limit);
    const rest = body.subarray(seen.length);
    const endOfStream = rest.length === 0 && trailers === undefined;
    const answer = await run.ask(
      messageOf(direction, "body", { body: seen, endOfStream }),
      names.body,
    );
    const ended = stop(answer);
    if (ended) return local(ended);
    if (answer.kind === "reply") {
      const common = answer.value.response;
      const bad = mutate(headers, common?.headerMutation);
      if (bad) return local(bad);
      const mutated = mutateBody(seen, common?.bodyMutation);
      if (mutated !== seen && headerValue(headers, "content-length") !== undefined) {
        setHeader(headers, "content-length", String(mutated.length + rest.length));
      }
      body = concat([mutated, rest]);
    }
  }

  // 3. Trailers, only with trailer mode SEND.
  if (trailers !== undefined && !replaced && run.modes[direction].trailers && !run.done) {
    const answer = await run.ask(
      messageOf(direction, "trailers", { headers: trailers }),
      names.trailers,
    );
    const ended = stop(answer);
    if (ended) return local(ended);
    if (answer.kind === "reply") {
      const bad = mutate(trailers, answer.value.headerMutation);
      if (bad) return local(bad);
    }
  }
  return { kind: "passed", headers, body, trailers, chunked };
}

/** Sends one direction without waiting (observability mode): nothing is applied. */
export function observeDirection(run: FilterRun, direction: Direction, input: Message): void {
  const stream = run.open();
  const { modes } = run;
  const hasBody = input.body.length > 0 || input.emptyEndChunk;
  const trailers = input.trailers;
  if (modes[direction].headers) {
    const endOfStream = !hasBody && trailers === undefined;
    stream.post(messageOf(direction, "headers", { headers: input.headers, endOfStream }, true));
  }
  if (hasBody && modes[direction].body === "STREAMED") {
    const parts = input.body.length > 0 ? chunks(input.body, input.chunkSize) : [];
    if (input.emptyEndChunk) parts.push(new Uint8Array());
    for (const [index, chunk] of parts.entries()) {
      const endOfStream = index === parts.length - 1 && trailers === undefined;
      stream.post(messageOf(direction, "body", { body: chunk, endOfStream }, true));
    }
  }
  if (trailers !== undefined && modes[direction].trailers) {
    stream.post(messageOf(direction, "trailers", { headers: trailers }, true));
  }
}
