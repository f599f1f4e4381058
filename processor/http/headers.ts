/** Header maps: Envoy's list of entries split into pseudo-headers and regular headers. */
import { appendOwn } from "./limits.ts";

/**
 * One header as Envoy sent it. The caller has already turned Envoy's `raw_value` bytes (or `value`)
 * into a string. Keys may be pseudo-headers such as `:method` or `:status`.
 */
export interface HeaderEntry {
  key: string;
  value: string;
}

/** Header entries sorted out: pseudo-headers (last one wins) and regular headers. */
export interface SplitHeaders {
  /** Pseudo-headers by name including the colon, e.g. `:path`. */
  pseudo: Map<string, string>;
  /** Lower-cased names → values in arrival order, every regular header included. */
  all: Record<string, string[]>;
}

/**
 * Splits entries into pseudo-headers and lower-cased regular headers. Empty keys are skipped and
 * repeated headers keep every value, as in the Go processor
 * (docs/go-compatibility.md#request-model).
 */
export function splitHeaders(entries: readonly HeaderEntry[]): SplitHeaders {
  const pseudo = new Map<string, string>();
  const all: Record<string, string[]> = {};
  for (const { key, value } of entries) {
    if (key === "") continue;
    if (key.startsWith(":")) pseudo.set(key.toLowerCase(), value);
    else appendOwn(all, key.toLowerCase(), value);
  }
  return { pseudo, all };
}

/** A copy of `headers` without the named header. */
export function withoutHeader(
  headers: Record<string, string[]>,
  name: string,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, values] of Object.entries(headers)) {
    if (key !== name) appendAll(out, key, values);
  }
  return out;
}

/**
 * `headers` where every name with an underscore also gives its values to the name with dashes:
 * CGI-style backends (PHP, WSGI, Rack) read `User_Agent` and `User-Agent` both as
 * `HTTP_USER_AGENT`, and Envoy passes underscores by default, so a rule on `user-agent` must see
 * `user_agent` too. The underscored name stays as well. Costs one search per name otherwise.
 */
export function withUnderscoreAliases(headers: Record<string, string[]>): Record<string, string[]> {
  for (const [key, values] of Object.entries(headers)) {
    if (key.includes("_")) appendAll(headers, key.replaceAll("_", "-"), values);
  }
  return headers;
}

function appendAll(out: Record<string, string[]>, key: string, values: string[]): void {
  for (const value of values) appendOwn(out, key, value);
}

/** The first value of a header, if any. */
export function firstValue(headers: Record<string, string[]>, name: string): string | undefined {
  return Object.hasOwn(headers, name) ? headers[name]?.[0] : undefined;
}

/**
 * Every line of a header, joined with `, `: for a list header (RFC 9110 §5.3) that is what the
 * lines mean, and it is how Envoy itself joins a repeated Content-Type. Reading only the first
 * line would let a second `Content-Encoding: gzip` line hide a layer of coding.
 */
export function joinedValue(headers: Record<string, string[]>, name: string): string | undefined {
  const values = Object.hasOwn(headers, name) ? headers[name] : undefined;
  if (values === undefined || values.length < 2) return values?.[0];
  return values.join(", ");
}

/**
 * `Content-Length` as a number when it is a plain non-negative integer and every value agrees;
 * undefined otherwise (a conflicting or malformed length is not something to rely on).
 */
export function contentLengthOf(headers: Record<string, string[]>): number | undefined {
  const values = Object.hasOwn(headers, "content-length") ? headers["content-length"] : undefined;
  const first = values?.[0]?.trim();
  if (first === undefined || !/^\d{1,15}$/.test(first)) return undefined;
  return values?.every((v) => v.trim() === first) ? Number(first) : undefined;
}
