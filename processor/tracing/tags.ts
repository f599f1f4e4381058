/**
 * The span's name, resource and tags, computed from the stream's request, WAF runs and end: a pure
 * function shared by the dd-trace tracer and the recording tracer, so tests see exactly what is
 * sent. Tags follow the Go processor and dd-trace-js's reporter (docs/span-tags.md);
 * deliberate differences are commented where they are made.
 */
import { gzipSync } from "node:zlib";
import { CLIENT_IP_HEADERS } from "../http/index.ts";
import type { WafRunResult } from "../waf/index.ts";
import type { SpanEnd, SpanStart, SpanTags } from "./types.ts";
import { httpEndpoint, httpUrl, resourcePath } from "./url.ts";

/** Go's collected header list (request and response), before the client-IP headers. */
const GENERAL_HEADERS = [
  "accept",
  "accept-encoding",
  "accept-language",
  "akamai-user-risk",
  "cf-ray",
  "cloudfront-viewer-ja3-fingerprint",
  "content-encoding",
  "content-language",
  "content-length",
  "content-type",
  "host",
  "user-agent",
  "via",
  "x-amzn-trace-id",
  "x-appgw-trace-id",
  "x-cloud-trace-context",
  "x-forwarded",
  "x-sigsci-requestid",
  "x-sigsci-tags",
] as const;

/** Datadog security-testing headers, copied on requests only (Go). */
const SECURITY_TESTING_HEADERS = ["x-datadog-endpoint-scan", "x-datadog-security-test"] as const;

/** At most this many triggers in `_dd.appsec.json` per request (Go). */
export const MAX_TRIGGERS = 10;

/** Options of {@link spanTagsFor} that do not come from the stream itself. */
export interface SpanTagOptions {
  /** `DD_TRACE_CLIENT_IP_HEADER`: also collected as a header tag. */
  readonly clientIpHeader?: string | undefined;
  /** First span after the ruleset (re)loaded: carries `_dd.appsec.waf.version` (Go). */
  readonly firstAfterRulesLoad?: boolean;
  /**
   * Schema tag encoding. `json` (default) writes the schema as a JSON string, as the Go reference
   * does (B38); `gzip-base64` is dd-trace-js's encoding. The backend reads both.
   */
  readonly schemaEncoding?: "json" | "gzip-base64";
}

/**
 * Name, resource and tags of the span of one stream.
 *
 * Decisions where the Go processor could be followed or not (docs/span-tags.md):
 * - `_dd.runtime_family` is `nodejs` (what this runtime is), where Go writes `go`.
 * - Observability mode: the span reports what reached the client: the upstream status and no
 *   `appsec.blocked` (B45). The would-be block is visible in the triggers (`security_response_id`,
 *   `on_match`).
 * - A stream ended by an error before any response has no `http.status_code` (as Go's
 *   `CloseBeforeResponse`); a complete or cancelled stream without a response reports `200` (Go).
 * - The header list is Go's and is collected on every request; it already contains every header
 *   dd-trace-js adds only when there is an event.
 */
export function spanTagsFor(
  start: SpanStart,
  wafResults: readonly WafRunResult[],
  end: SpanEnd,
  options: SpanTagOptions = {},
): SpanTags {
  const { request } = start;
  const meta: Record<string, string> = {};
  const metrics: Record<string, number> = {};
  const rawPath = request.rawUri.replace(/[?#].*$/s, "");

  meta["span.kind"] = "server";
  meta.component = start.integration;
  meta["http.method"] = request.method;
  meta["http.url"] = httpUrl(request.scheme, request.authority, request.rawUri);
  meta["http.endpoint"] = httpEndpoint(rawPath);
  if (request.authority !== "") meta["http.host"] = request.authority;
  const userAgent = request.headers["user-agent"]?.[0];
  if (userAgent !== undefined) meta["http.useragent"] = userAgent;
  if (request.clientIp !== undefined) meta["http.client_ip"] = request.clientIp;
  if (request.remoteIp !== undefined) meta["network.client.ip"] = request.remoteIp;

  const status = statusOf(end);
  if (status !== undefined) meta["http.status_code"] = String(status);

  const headerNames = collectedHeaders(options.clientIpHeader);
  addHeaderTags(meta, "http.request.headers.", request.headers, [
    ...headerNames,
    ...SECURITY_TESTING_HEADERS,
  ]);
  if (end.response !== undefined) {
    addHeaderTags(meta, "http.response.headers.", end.response.headers, headerNames);
  }

  meta["_dd.runtime_family"] = "nodejs";
  metrics["_dd.appsec.enabled"] = 1;
  if (end.rulesVersion !== undefined) meta["_dd.appsec.event_rules.version"] = end.rulesVersion;
  if (wafResults.length > 0) metrics["_dd.appsec.waf.duration"] = end.wafDurationUs;
  if (end.wafTimeouts > 0) metrics["_dd.appsec.waf.timeouts"] = end.wafTimeouts;
  const errorCode = worstErrorCode(wafResults);
  if (errorCode !== undefined) metrics["_dd.appsec.waf.error"] = errorCode;

  const triggers = wafResults.flatMap((r) => r.events).slice(0, MAX_TRIGGERS);
  if (triggers.length > 0) {
    meta["appsec.event"] = "true";
    meta["_dd.origin"] = "appsec";
    meta["_dd.appsec.json"] = JSON.stringify({ triggers });
  }
  if (triggers.length > 0 || options.firstAfterRulesLoad === true) {
    meta["_dd.appsec.waf.version"] = end.wafVersion;
  }
  const blocked = end.blockedBy !== undefined && !end.observabilityMode;
  if (blocked) meta["appsec.blocked"] = "true";

  addAttributes(meta, metrics, wafResults, blocked, options.schemaEncoding ?? "json");

  return {
    name: "http.request",
    type: "web",
    resource: `${request.method} ${resourcePath(rawPath)}`,
    meta,
    metrics,
    error: status !== undefined && status >= 500,
  };
}

/** The span's status: the block status, else the response's, else `200` unless it was an error. */
function statusOf(end: SpanEnd): number | undefined {
  if (end.blockedBy !== undefined && !end.observabilityMode) return end.blockedBy.status;
  if (end.response !== undefined) return end.response.status;
  return end.outcome === "error" ? undefined : 200;
}

/** Go's list plus the client-IP headers and the configured client-IP header. */
function collectedHeaders(clientIpHeader: string | undefined): string[] {
  // The client-IP headers are tagged too: the same list the client IP is resolved from.
  const names: string[] = [...GENERAL_HEADERS, ...CLIENT_IP_HEADERS];
  const custom = clientIpHeader?.trim().toLowerCase();
  if (custom !== undefined && custom !== "" && !names.includes(custom)) names.push(custom);
  return names;
}

/**
 * `<prefix><name>` = the values joined with `,` (Go). The name is normalised as dd-trace does:
 * lower-cased, at most 200 characters, anything outside `[a-z0-9_\-:/]` becomes `_`.
 */
function addHeaderTags(
  meta: Record<string, string>,
  prefix: string,
  headers: Readonly<Record<string, readonly string[]>>,
  names: readonly string[],
): void {
  for (const name of names) {
    const values = headers[name];
    if (values === undefined || values.length === 0) continue;
    meta[`${prefix}${normaliseHeaderName(name)}`] = values.join(",");
  }
}

function normaliseHeaderName(name: string): string {
  return name
    .trim()
    .slice(0, 200)
    .toLowerCase()
    .replace(/[^a-z0-9_\-:/]/g, "_");
}

/** The most severe libddwaf error code (the most negative), as dd-trace reports it. */
function worstErrorCode(results: readonly WafRunResult[]): number | undefined {
  let worst: number | undefined;
  for (const { errorCode } of results) {
    if (errorCode !== undefined && (worst === undefined || errorCode < worst)) worst = errorCode;
  }
  return worst;
}

/**
 * WAF attributes, later runs overriding earlier ones: fingerprints (`_dd.appsec.fp.*`) as they
 * are, schemas (`_dd.appsec.s.*`) as JSON. Response schemas are dropped when the request was
 * blocked (Go: the response they describe never reached the client).
 */
function addAttributes(
  meta: Record<string, string>,
  metrics: Record<string, number>,
  results: readonly WafRunResult[],
  blocked: boolean,
  encoding: "json" | "gzip-base64",
): void {
  for (const result of results) {
    for (const [name, value] of Object.entries(result.attributes)) {
      if (value === undefined || value === null) continue;
      if (name.startsWith("_dd.appsec.s.")) {
        if (blocked && name.startsWith("_dd.appsec.s.res.")) continue;
        const json = JSON.stringify(value);
        meta[name] = encoding === "json" ? json : gzipSync(json).toString("base64");
      } else if (typeof value === "string") {
        meta[name] = value;
      } else if (typeof value === "number") {
        metrics[name] = value;
      } else if (typeof value === "boolean") {
        meta[name] = String(value);
      } else {
        meta[name] = JSON.stringify(value);
      }
    }
  }
}
