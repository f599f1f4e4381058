/**
 * Message sequences that break the ext_proc protocol, with the error code each must produce. Shared
 * by the stream-loop unit test and the over-the-wire integration test, so both layers are held to
 * the same list.
 */
import type { ProtocolErrorCode } from "../../processor/errors.ts";
import type { ProcessingRequest } from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import {
  emptyRequest,
  getHeaders,
  requestBody,
  requestHeaders,
  requestTrailers,
  responseBody,
  responseHeaders,
} from "./messages.ts";

/** One violation: a name, the messages Envoy (or an impostor) sends, the expected error code. */
export type ProtocolAbuse = readonly [
  name: string,
  messages: ProcessingRequest[],
  code: ProtocolErrorCode,
];

/** Every violation the state machine must reject. */
export const PROTOCOL_ABUSE: readonly ProtocolAbuse[] = [
  [
    "response headers before request headers",
    [responseHeaders({ ":status": "200" })],
    "response-before-request",
  ],
  ["response body before request headers", [responseBody("x", true)], "response-before-request"],
  ["request body before request headers", [requestBody("x", true)], "body-before-headers"],
  ["request trailers before request headers", [requestTrailers()], "trailers-before-headers"],
  [
    "second request headers",
    [requestHeaders(getHeaders(), false), requestHeaders(getHeaders(), false)],
    "duplicate-request-headers",
  ],
  [
    "request body after end of stream",
    [requestHeaders(getHeaders(), true), requestBody("x", true)],
    "body-after-end",
  ],
  [
    "response body before response headers",
    [requestHeaders(getHeaders(), true), responseBody("x", true)],
    "response-body-before-headers",
  ],
  ["a message without a request kind", [emptyRequest()], "missing-request"],
];
