/**
 * Builders for the ProcessingRequest messages Envoy sends, for tests. Header values go in
 * `raw_value` only, as Envoy sends them (docs/envoy-filter.md#replies).
 */
import { create } from "@bufbuild/protobuf";
import {
  HeaderMapSchema,
  HeaderValueSchema,
} from "../../processor/gen/envoy/config/core/v3/base_pb.ts";
import {
  HttpBodySchema,
  HttpHeadersSchema,
  HttpTrailersSchema,
  type ProcessingRequest,
  ProcessingRequestSchema,
  type ProcessingResponse,
} from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Headers as a list of pairs (repeated names allowed) or a record. */
export type Headers = Array<[string, string]> | Record<string, string>;

function headerMap(headers: Headers) {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return create(HeaderMapSchema, {
    headers: pairs.map(([key, value]) =>
      create(HeaderValueSchema, { key, rawValue: encoder.encode(value) }),
    ),
  });
}

/** Extra fields of a ProcessingRequest. */
export interface MessageOptions {
  observabilityMode?: boolean;
  /** Envoy attributes by filter name, e.g. `{ "envoy.filters.http.ext_proc": { "source.address": "192.0.2.1:4000" } }`. */
  attributes?: Record<string, Record<string, string>>;
}

type Kind = ProcessingRequest["request"]["case"] & string;

function message(
  request: ProcessingRequest["request"],
  options: MessageOptions = {},
): ProcessingRequest {
  return create(ProcessingRequestSchema, {
    request,
    observabilityMode: options.observabilityMode ?? false,
    ...(options.attributes ? { attributes: options.attributes } : {}),
  });
}

function headersMessage(
  kind: Kind,
  headers: Headers,
  endOfStream: boolean,
  options: MessageOptions,
) {
  const value = create(HttpHeadersSchema, { headers: headerMap(headers), endOfStream });
  return message({ case: kind as "requestHeaders", value }, options);
}

function bodyMessage(
  kind: Kind,
  body: string | Uint8Array,
  endOfStream: boolean,
  options: MessageOptions,
) {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  return message(
    { case: kind as "requestBody", value: create(HttpBodySchema, { body: bytes, endOfStream }) },
    options,
  );
}

/** A `request_headers` message; `endOfStream` true means no body follows. */
export function requestHeaders(
  headers: Headers,
  endOfStream = true,
  options: MessageOptions = {},
): ProcessingRequest {
  return headersMessage("requestHeaders", headers, endOfStream, options);
}

/** A `response_headers` message. */
export function responseHeaders(
  headers: Headers,
  endOfStream = true,
  options: MessageOptions = {},
): ProcessingRequest {
  return headersMessage("responseHeaders", headers, endOfStream, options);
}

/** A `request_body` chunk. */
export function requestBody(
  body: string | Uint8Array,
  endOfStream: boolean,
  options: MessageOptions = {},
): ProcessingRequest {
  return bodyMessage("requestBody", body, endOfStream, options);
}

/** A `response_body` chunk. */
export function responseBody(
  body: string | Uint8Array,
  endOfStream: boolean,
  options: MessageOptions = {},
): ProcessingRequest {
  return bodyMessage("responseBody", body, endOfStream, options);
}

/** A `request_trailers` message. */
export function requestTrailers(trailers: Headers = {}): ProcessingRequest {
  const value = create(HttpTrailersSchema, { trailers: headerMap(trailers) });
  return create(ProcessingRequestSchema, { request: { case: "requestTrailers", value } });
}

/** A `response_trailers` message. */
export function responseTrailers(trailers: Headers = {}): ProcessingRequest {
  const value = create(HttpTrailersSchema, { trailers: headerMap(trailers) });
  return create(ProcessingRequestSchema, { request: { case: "responseTrailers", value } });
}

/** A ProcessingRequest with no request kind set (invalid). */
export function emptyRequest(): ProcessingRequest {
  return create(ProcessingRequestSchema, {});
}

/** Typical GET request headers. */
export function getHeaders(
  path = "/",
  extra: Record<string, string> = {},
): Array<[string, string]> {
  return [
    [":method", "GET"],
    [":scheme", "https"],
    [":authority", "app.example.com"],
    [":path", path],
    ["user-agent", "curl/8.5.0"],
    ...Object.entries(extra),
  ];
}

/** Request pseudo-headers for `method` and `path` on host datadoghq.com (the Go scenarios' host), plus `extra`. */
export function headerList(
  method: string,
  path: string,
  extra: Record<string, string> = {},
): Array<[string, string]> {
  return [
    [":method", method],
    [":scheme", "https"],
    [":authority", "datadoghq.com"],
    [":path", path],
    ...Object.entries(extra),
  ];
}

/** The reply kind (`requestHeaders`, `immediateResponse`, ...). */
export function kindOf(response: ProcessingResponse): string | undefined {
  return response.response.case;
}

/** The headers an ImmediateResponse or a CONTINUE reply sets, as a record. */
export function headersSet(response: ProcessingResponse): Record<string, string> {
  const reply = response.response;
  const mutation =
    reply.case === "immediateResponse"
      ? reply.value.headers
      : reply.case === "requestHeaders" ||
          reply.case === "responseHeaders" ||
          reply.case === "requestBody" ||
          reply.case === "responseBody"
        ? reply.value.response?.headerMutation
        : undefined;
  const out: Record<string, string> = {};
  for (const option of mutation?.setHeaders ?? []) {
    const header = option.header;
    if (header)
      out[header.key] = header.rawValue.length > 0 ? decoder.decode(header.rawValue) : header.value;
  }
  return out;
}
