/**
 * `http/`: pure normalisation of Envoy header maps and body bytes into a plain request/response
 * model and WAF-ready body values. No WAF or Envoy types; expected failures are values.
 */

export type { BodyParseResult, BodySkipReason, ParseBodyOptions } from "./body.ts";
export { parseBody } from "./body.ts";
export type { BodyBuffer, BodyBufferOptions } from "./body-buffer.ts";
export { createBodyBuffer } from "./body-buffer.ts";
export type { ClientIpOptions } from "./client-ip.ts";
export { CLIENT_IP_HEADERS, clientIpFromHeaders } from "./client-ip.ts";
export type { BodyKind } from "./content-type.ts";
export { bodyInspection, bodyKindFromContentType } from "./content-type.ts";
export { parseCookies } from "./cookies.ts";
export type { HeaderEntry } from "./headers.ts";
export { isPrivateIp } from "./ip.ts";
export { BODY_VALUE_LIMITS } from "./limits.ts";
export { parseQuery } from "./query.ts";
export type {
  HttpModelError,
  HttpModelErrorCode,
  HttpModelResult,
  HttpRequest,
  HttpResponse,
  RequestOptions,
} from "./request.ts";
export { requestFromHeaders, responseFromHeaders } from "./request.ts";
export type { XmlElement } from "./xml.ts";
