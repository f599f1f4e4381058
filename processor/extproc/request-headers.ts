/** Request headers: build the request model, run the WAF on it, decide whether to ask for the body. */
import { ProtocolError } from "../errors.ts";
import type { HttpHeaders } from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { requestFromHeaders } from "../http/index.ts";
import { ADDRESSES, compactValues } from "../waf/index.ts";
import { type Analysis, runWaf } from "./analysis.ts";
import { createBodyState, isInspectable } from "./body-state.ts";
import { headerEntries } from "./envoy-headers.ts";
import type { Verdict } from "./verdict.ts";

/** Handles `request_headers`: starts the span, runs the WAF, injects the trace context. */
export function handleRequestHeaders(
  message: HttpHeaders,
  analysis: Analysis,
): Verdict | ProtocolError {
  const { config } = analysis.deps;
  const remoteAddress = analysis.info.attributes["source.address"];
  const parsed = requestFromHeaders(headerEntries(message.headers), {
    ...(config.clientIpHeader ? { clientIpHeader: config.clientIpHeader } : {}),
    ...(typeof remoteAddress === "string" ? { remoteAddress } : {}),
  });
  if (!parsed.ok) return new ProtocolError("invalid-request-headers", parsed.error.message);
  const request = parsed.value;
  analysis.request = request;
  analysis.span = analysis.deps.tracer.startSpan({
    integration: analysis.info.integration,
    request,
  });
  const blocked = runWaf(analysis, {
    [ADDRESSES.REQUEST_METHOD]: request.method,
    [ADDRESSES.REQUEST_URI_RAW]: request.rawUri,
    [ADDRESSES.REQUEST_HEADERS_NO_COOKIES]: compactValues(request.headers),
    [ADDRESSES.REQUEST_COOKIES]: compactValues(request.cookies),
    [ADDRESSES.REQUEST_QUERY]: compactValues(request.query),
    [ADDRESSES.CLIENT_IP]: request.clientIp,
  });
  if (blocked) return blocked;
  // Never ask for the body of an upgrade or CONNECT: it never ends, and Envoy would hang the
  // request waiting for it (envoyproxy/envoy #47048, #47081).
  const wantBody =
    !message.endOfStream && !request.isUpgrade && isInspectable(request, config.bodyLimit);
  if (wantBody) analysis.requestBody = createBodyState(request, config.bodyLimit, "streamed");
  // After the WAF run: in standalone mode the context is injected only when the trace is kept.
  const setHeaders = analysis.span.propagationHeaders();
  return {
    kind: "continue",
    ...(wantBody ? { bodyMode: "streamed" as const } : {}),
    ...(setHeaders.length > 0 ? { setHeaders } : {}),
  };
}
