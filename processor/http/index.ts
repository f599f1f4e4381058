/**
 * `http/`: pure normalisation of Envoy header maps and body bytes into a plain request/response
 * model and WAF-ready body values. No WAF or Envoy types; expected failures are values.
 */

export { parseBody } from "./body.ts";
export type { BodyBuffer } from "./body-buffer.ts";
export { createBodyBuffer } from "./body-buffer.ts";
export { CLIENT_IP_HEADERS } from "./client-ip.ts";
export { bodyInspection } from "./content-type.ts";
export type { HeaderEntry } from "./headers.ts";
export type {
  HttpRequest,
  HttpResponse,
} from "./request.ts";
export { requestFromHeaders, responseFromHeaders } from "./request.ts";
