/** The request and response models built from Envoy's header maps. */
import { type Err, err, ok, type Result } from "../result.ts";
import { type ClientIpOptions, clientIpFromHeaders } from "./client-ip.ts";
import { parseCookies } from "./cookies.ts";
import {
  contentLengthOf,
  firstValue,
  type HeaderEntry,
  joinedValue,
  splitHeaders,
  withoutHeader,
  withUnderscoreAliases,
} from "./headers.ts";
import { parseIp } from "./ip.ts";
import { parseQuery } from "./query.ts";

/** A normalised HTTP request, as seen on the request-headers message. */
export interface HttpRequest {
  /** `:method` as sent, not validated (the Go reference accepts `OPTION`). */
  method: string;
  /** `:scheme`, `http` when absent. */
  scheme: string;
  /** `:authority`, else the first `host` header, else the empty string. */
  authority: string;
  /** `:path` exactly as sent, query included (`/a?x=1`). */
  rawUri: string;
  /** `rawUri` up to the first `?` or `#`, not percent-decoded. */
  path: string;
  /** Decoded query string (see {@link parseQuery}); `{}` when there is none. */
  query: Record<string, string[]>;
  /**
   * Lower-cased names → values, without pseudo-headers and `cookie`; `host` = the authority. A
   * name with `_` also lends its values to the `-` name (see withUnderscoreAliases).
   */
  headers: Record<string, string[]>;
  /** Every `cookie` header parsed (see {@link parseCookies}); `{}` when there is none. */
  cookies: Record<string, string[]>;
  /** Resolved client IP (see {@link clientIpFromHeaders}). */
  clientIp?: string;
  /** The IP part of `options.remoteAddress`, when it parses. */
  remoteIp?: string;
  /** Every `content-type` line, joined with `, ` (see {@link joinedValue}). */
  contentType?: string;
  /** Every `content-encoding` line, joined with `, `: two lines are two stacked codings. */
  contentEncoding?: string;
  /** `content-length` in bytes, when well-formed and consistent. */
  contentLength?: number;
  /** An `Upgrade` header, `Connection: upgrade`, a `CONNECT` method or an HTTP/2 `:protocol`. */
  isUpgrade: boolean;
}

/** A normalised HTTP response, as seen on the response-headers message. */
export interface HttpResponse {
  /** `:status`, an integer in 100–599. */
  status: number;
  /** Lower-cased names → values, without pseudo-headers and `cookie`; `set-cookie` is kept. */
  headers: Record<string, string[]>;
  /** Every `content-type` line, joined with `, `. */
  contentType?: string;
  /** Every `content-encoding` line, joined with `, `. */
  contentEncoding?: string;
  /** `content-length` in bytes, when well-formed and consistent. */
  contentLength?: number;
}

/** Why a header map could not become a request or response. */
export type HttpModelErrorCode = "missing-pseudo-header" | "invalid-status";

/** A header map that cannot be modelled; `extproc/` maps it to its protocol error. */
export interface HttpModelError {
  code: HttpModelErrorCode;
  /** The offending pseudo-header, e.g. `:path`. */
  header: string;
  message: string;
}

/** Options of {@link requestFromHeaders}: the client IP settings. */
export type RequestOptions = ClientIpOptions;

/**
 * Builds the request model from Envoy's request headers. `:method` and `:path` are required;
 * empty values are accepted, as in the Go reference.
 */
export function requestFromHeaders(
  entries: readonly HeaderEntry[],
  options: RequestOptions,
): Result<HttpRequest, HttpModelError> {
  const { pseudo, all } = splitHeaders(entries);
  const method = pseudo.get(":method");
  const rawUri = pseudo.get(":path");
  if (method === undefined) return missing(":method");
  if (rawUri === undefined) return missing(":path");
  const authority = pseudo.get(":authority") ?? firstValue(all, "host") ?? "";
  const headers = withUnderscoreAliases(withoutHeader(all, "cookie"));
  // The WAF's host header is the authority, as in the Go processor
  // (docs/go-compatibility.md#waf-addresses).
  if (authority !== "") headers.host = [authority];
  const request: HttpRequest = {
    method,
    scheme: pseudo.get(":scheme") || "http",
    authority,
    rawUri,
    path: rawUri.replace(/[?#].*$/s, ""),
    query: parseQuery(queryOf(rawUri)),
    headers,
    cookies: parseCookies(all.cookie ?? []),
    isUpgrade: isUpgrade(method, pseudo, all),
  };
  addOptional(request, "clientIp", clientIpFromHeaders(all, options));
  addOptional(request, "remoteIp", remoteIpOf(options.remoteAddress));
  addContentFields(request, all);
  return ok(request);
}

/** Builds the response model from Envoy's response headers; `:status` must be 100–599. */
export function responseFromHeaders(
  entries: readonly HeaderEntry[],
): Result<HttpResponse, HttpModelError> {
  const { pseudo, all } = splitHeaders(entries);
  const rawStatus = pseudo.get(":status");
  if (rawStatus === undefined) return missing(":status");
  const status = /^\d{3}$/.test(rawStatus.trim()) ? Number(rawStatus.trim()) : Number.NaN;
  if (!(status >= 100 && status <= 599)) {
    return err({ code: "invalid-status", header: ":status", message: "status is not 100-599" });
  }
  const response: HttpResponse = { status, headers: withoutHeader(all, "cookie") };
  addContentFields(response, all);
  return ok(response);
}

function missing(header: string): Err<HttpModelError> {
  return err({ code: "missing-pseudo-header", header, message: `missing ${header}` });
}

function queryOf(rawUri: string): string {
  const start = rawUri.indexOf("?");
  if (start === -1) return "";
  const hash = rawUri.indexOf("#", start);
  return rawUri.slice(start + 1, hash === -1 ? undefined : hash);
}

function remoteIpOf(remoteAddress: string | undefined): string | undefined {
  return remoteAddress === undefined ? undefined : parseIp(remoteAddress);
}

function isUpgrade(
  method: string,
  pseudo: Map<string, string>,
  headers: Record<string, string[]>,
): boolean {
  if (method.toUpperCase() === "CONNECT" || pseudo.has(":protocol")) return true;
  if ((headers.upgrade ?? []).some((v) => v.trim() !== "")) return true;
  return (headers.connection ?? []).some((v) =>
    v.split(",").some((token) => token.trim().toLowerCase() === "upgrade"),
  );
}

type ContentFields = Pick<HttpRequest, "contentType" | "contentEncoding" | "contentLength">;

function addContentFields(target: ContentFields, headers: Record<string, string[]>): void {
  addOptional(target, "contentType", joinedValue(headers, "content-type"));
  addOptional(target, "contentEncoding", joinedValue(headers, "content-encoding"));
  addOptional(target, "contentLength", contentLengthOf(headers));
}

/** Sets an optional field only when defined (exactOptionalPropertyTypes forbids `undefined`). */
function addOptional<T, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
