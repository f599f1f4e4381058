/**
 * Builds every ProcessingResponse the processor sends. The inspector returns a {@link Verdict}; this module
 * alone knows the wire shape (docs/envoy-filter.md#replies).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { HeaderValueOptionSchema, HeaderValueSchema } from "../gen/envoy/config/core/v3/base_pb.ts";
import {
  ProcessingMode_BodySendMode,
  ProcessingModeSchema,
} from "../gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import {
  BodyResponseSchema,
  CommonResponse_ResponseStatus,
  CommonResponseSchema,
  HeaderMutationSchema,
  HeadersResponseSchema,
  ImmediateResponseSchema,
  type ProcessingResponse,
  ProcessingResponseSchema,
  TrailersResponseSchema,
} from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { HttpStatusSchema, type StatusCode } from "../gen/envoy/type/v3/http_status_pb.ts";
import type {
  BodyMode,
  ContinueVerdict,
  HeaderPair,
  ImmediateVerdict,
  Verdict,
} from "../inspector/index.ts";
import type { StreamEvent } from "./stream-state.ts";

const encoder = new TextEncoder();

const WIRE_BODY_MODES: Record<BodyMode, ProcessingMode_BodySendMode> = {
  streamed: ProcessingMode_BodySendMode.STREAMED,
  "buffered-partial": ProcessingMode_BodySendMode.BUFFERED_PARTIAL,
};

/**
 * The reply to a message of kind `kind` for `verdict`, encoded for the wire. Most replies are a
 * plain CONTINUE, possibly asking for the body: those are the same bytes every time, so they are
 * encoded once and shared instead of building and encoding three messages per reply.
 */
export function encodedResponseFor(kind: StreamEvent["kind"], verdict: Verdict): Uint8Array {
  if (verdict.kind === "continue" && (verdict.setHeaders?.length ?? 0) === 0) {
    const key = `${kind}/${verdict.bodyMode ?? "none"}` as const;
    let bytes = ENCODED_CONTINUES.get(key);
    if (bytes === undefined) {
      bytes = toBinary(ProcessingResponseSchema, continueResponse(kind, verdict));
      ENCODED_CONTINUES.set(key, bytes);
    }
    return bytes;
  }
  return toBinary(ProcessingResponseSchema, responseFor(kind, verdict));
}

/** Encoded CONTINUE replies by message kind and body mode (at most 6 × 3 entries). */
const ENCODED_CONTINUES = new Map<`${StreamEvent["kind"]}/${BodyMode | "none"}`, Uint8Array>();

/** Builds the reply to a message of kind `kind` for `verdict`. */
export function responseFor(kind: StreamEvent["kind"], verdict: Verdict): ProcessingResponse {
  return verdict.kind === "immediate"
    ? immediateResponse(verdict)
    : continueResponse(kind, verdict);
}

/** The matching-kind CONTINUE reply, with header mutations and `mode_override` where allowed. */
export function continueResponse(
  kind: StreamEvent["kind"],
  verdict: ContinueVerdict,
): ProcessingResponse {
  switch (kind) {
    case "request-headers":
    case "response-headers":
      return headersResponse(kind, verdict);
    case "request-body":
    case "response-body": {
      const value = create(BodyResponseSchema, { response: commonResponse(verdict) });
      const response =
        kind === "request-body"
          ? { case: "requestBody" as const, value }
          : { case: "responseBody" as const, value };
      return create(ProcessingResponseSchema, { response });
    }
    case "request-trailers":
      return create(ProcessingResponseSchema, {
        response: { case: "requestTrailers", value: create(TrailersResponseSchema) },
      });
    case "response-trailers":
      return create(ProcessingResponseSchema, {
        response: { case: "responseTrailers", value: create(TrailersResponseSchema) },
      });
    default: {
      const unknownKind: never = kind;
      return unknownKind;
    }
  }
}

function headersResponse(
  kind: "request-headers" | "response-headers",
  verdict: ContinueVerdict,
): ProcessingResponse {
  const value = create(HeadersResponseSchema, { response: commonResponse(verdict) });
  const response =
    kind === "request-headers"
      ? { case: "requestHeaders" as const, value }
      : { case: "responseHeaders" as const, value };
  if (!verdict.bodyMode) return create(ProcessingResponseSchema, { response });
  // Requests always STREAMED (not BUFFERED_PARTIAL): Envoy forwards each chunk as it arrives, so an
  // upload never waits for a buffer to fill and Envoy's own buffer limit (1 MiB by default) never
  // applies; we acknowledge each chunk at once and analyse at the end of the body or at our limit,
  // as the Go reference does. The request headers are held until we answer them anyway, and a
  // request block always produces a block page. Responses may be BUFFERED_PARTIAL (a setting):
  // then Envoy holds the response headers until the body is analysed, so a response-body block is
  // a block page instead of a reset stream. Only the wanted direction is set.
  const modeOverride = create(
    ProcessingModeSchema,
    kind === "request-headers"
      ? { requestBodyMode: WIRE_BODY_MODES[verdict.bodyMode] }
      : { responseBodyMode: WIRE_BODY_MODES[verdict.bodyMode] },
  );
  return create(ProcessingResponseSchema, { response, modeOverride });
}

function commonResponse(verdict: ContinueVerdict) {
  const common = create(CommonResponseSchema, { status: CommonResponse_ResponseStatus.CONTINUE });
  if (verdict.setHeaders && verdict.setHeaders.length > 0) {
    common.headerMutation = create(HeaderMutationSchema, {
      setHeaders: verdict.setHeaders.map(headerOption),
    });
  }
  return common;
}

/**
 * Envoy reads exactly one of `value` / `raw_value`; setting both is an error (envoyproxy/envoy
 * #31555), so we write `raw_value` only. `append` stays unset, which means overwrite.
 */
function headerOption([key, value]: HeaderPair) {
  return create(HeaderValueOptionSchema, {
    header: create(HeaderValueSchema, { key, rawValue: encoder.encode(value) }),
  });
}

/**
 * An ImmediateResponse (block page or redirect). `grpc_status` stays unset so that, for gRPC
 * clients, Envoy maps the HTTP status (403 → PERMISSION_DENIED) instead of claiming success.
 */
export function immediateResponse(verdict: ImmediateVerdict): ProcessingResponse {
  const value = create(ImmediateResponseSchema, {
    status: create(HttpStatusSchema, { code: verdict.status as StatusCode }),
    headers: create(HeaderMutationSchema, { setHeaders: verdict.headers.map(headerOption) }),
    body: verdict.body,
    details: verdict.details,
  });
  return create(ProcessingResponseSchema, { response: { case: "immediateResponse", value } });
}
