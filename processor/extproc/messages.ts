/** Envoy's messages in the inspector's proxy-neutral shapes. */
import type { HeaderMap } from "../gen/envoy/config/core/v3/base_pb.ts";
import type {
  HttpBody,
  HttpHeaders,
  ProcessingRequest,
} from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import type { HeaderEntry } from "../http/index.ts";
import type { BodyChunk, ExchangeInfo, HeadersMessage } from "../inspector/index.ts";

/** What the transport tells the adapter about a gRPC call when it opens. */
export interface CallInfo {
  /** A gRPC request metadata value (lower-case key), if present. */
  readonly metadata: (key: string) => string | undefined;
}

// Non-fatal: invalid UTF-8 becomes U+FFFD instead of failing the request (values are bytes on the
// wire, CVE-2023-27488); the WAF still sees every valid character around it.
const decoder = new TextDecoder("utf-8", { fatal: false });

/** Reads `raw_value` (what Envoy sends) and falls back to `value` when it is empty. */
export function headerEntries(map: HeaderMap | undefined): HeaderEntry[] {
  if (!map) return [];
  return map.headers.map((header) => ({
    key: header.key,
    value: header.rawValue.length > 0 ? decoder.decode(header.rawValue) : header.value,
  }));
}

export function headersMessage(message: HttpHeaders): HeadersMessage {
  return { headers: headerEntries(message.headers), endOfStream: message.endOfStream };
}

export function bodyChunk(message: HttpBody): BodyChunk {
  return { bytes: message.body, endOfStream: message.endOfStream };
}

/**
 * The exchange as the inspector sees it, from the stream's first message: the integration named
 * by the gRPC metadata the chart sets, Envoy's `source.address` attribute, and the message's
 * observability flag.
 */
export function exchangeInfo(message: ProcessingRequest, call: CallInfo): ExchangeInfo {
  const istio = call.metadata("x-datadog-istio-integration");
  const remoteAddress = attribute(message.attributes, "source.address");
  return {
    integration: istio !== undefined && istio !== "" ? "istio" : "envoy",
    remoteAddress: typeof remoteAddress === "string" ? remoteAddress : undefined,
    observabilityMode: message.observabilityMode,
  };
}

/** Envoy keys attributes by filter name (`envoy.filters.http.ext_proc`); any filter's will do. */
function attribute(attributes: ProcessingRequest["attributes"], name: string): unknown {
  for (const key in attributes) {
    const value = attributes[key]?.[name];
    if (value !== undefined) return value;
  }
  return undefined;
}
