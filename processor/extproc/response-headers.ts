/** Response headers: run the WAF on status and headers, decide whether the body is worth reading. */
import { ProtocolError } from "../errors.ts";
import type { HttpHeaders } from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { responseFromHeaders } from "../http/index.ts";
import { ADDRESSES, compactValues, EXTRACT_SCHEMA } from "../waf/index.ts";
import { type Analysis, runWaf } from "./analysis.ts";
import { analyseBody, hasPendingBody } from "./body.ts";
import { createBodyState, isInspectable } from "./body-state.ts";
import { headerEntries } from "./envoy-headers.ts";
import type { Verdict } from "./verdict.ts";

/**
 * Handles `response_headers`. Synchronous unless part of a request body is still waiting to be
 * analysed: the common case then costs no promise, and the transport keeps reading.
 */
export function handleResponseHeaders(
  message: HttpHeaders,
  analysis: Analysis,
): Verdict | ProtocolError | Promise<Verdict | ProtocolError> {
  // The upstream may answer before the request body ended (envoyproxy/envoy #17069): analyse what
  // arrived of it now, or an attacker could hide a payload behind a fast upstream response.
  if (hasPendingBody("request", analysis)) {
    return analyseBody("request", analysis).then((early) =>
      early.kind === "immediate" ? early : responseHeaders(message, analysis),
    );
  }
  return responseHeaders(message, analysis);
}

function responseHeaders(message: HttpHeaders, analysis: Analysis): Verdict | ProtocolError {
  const parsed = responseFromHeaders(headerEntries(message.headers));
  if (!parsed.ok) return new ProtocolError("invalid-response-headers", parsed.error.message);
  const response = parsed.value;
  analysis.response = response;
  const { "set-cookie": _cookies, ...headers } = response.headers;
  const limit = analysis.deps.config.bodyLimit;
  const { waf } = analysis;
  // API Security: schemas are extracted in the last run of the stream, so that they cover the
  // response body when there is one.
  const sampleSchema =
    analysis.deps.config.apiSecurityEnabled &&
    analysis.span?.shouldSampleSchema(response.status) === true;
  // The response body and headers are asked for and fed only when a rule reads them or a schema
  // is extracted: with the recommended rules only API Security's processors read them, and every
  // other response would cost Envoy a body round trip and us a parse and a WAF run for nothing.
  const wantBody =
    !message.endOfStream &&
    isInspectable(response, limit) &&
    (sampleSchema || waf.isReadByRules(ADDRESSES.RESPONSE_BODY));
  if (wantBody) analysis.extractSchemaWithResponseBody = sampleSchema;
  const feedHeaders = sampleSchema || waf.isReadByRules(ADDRESSES.RESPONSE_HEADERS_NO_COOKIES);
  const blocked = runWaf(analysis, {
    [ADDRESSES.RESPONSE_STATUS]: String(response.status),
    ...(feedHeaders ? { [ADDRESSES.RESPONSE_HEADERS_NO_COOKIES]: compactValues(headers) } : {}),
    ...(sampleSchema && !wantBody ? { [ADDRESSES.WAF_CONTEXT_PROCESSOR]: EXTRACT_SCHEMA } : {}),
  });
  if (blocked) return blocked;
  if (!wantBody) {
    // Nothing left to inspect: close cleanly after this reply and Envoy goes on without us.
    return { kind: "continue", close: true };
  }
  // In observability mode Envoy ignores overrides and streams whatever its static mode says.
  const bodyMode = analysis.observing ? "streamed" : analysis.deps.config.responseBodyMode;
  analysis.responseBody = createBodyState(response, limit, bodyMode);
  return { kind: "continue", bodyMode };
}
