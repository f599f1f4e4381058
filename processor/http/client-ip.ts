/** Client IP resolution from request headers, as in the Go processor (docs/go-compatibility.md). */
import { forwardedForValues } from "./forwarded.ts";
import { isPrivateIp, parseIp } from "./ip.ts";

/** Options of {@link clientIpFromHeaders}. */
export interface ClientIpOptions {
  /** `DD_TRACE_CLIENT_IP_HEADER`: when set, only this header is consulted (case-insensitive). */
  clientIpHeader?: string;
  /** Envoy's `source.address` attribute (`ip`, `ip:port` or `[v6]:port`): the fallback. */
  remoteAddress?: string;
}

/**
 * Headers consulted by default, in priority order (docs/go-compatibility.md#client-ip). `forwarded`
 * is the RFC 7239 header (dd-trace-js still lists the older `x-forwarded`; the Go image we replace
 * does not).
 */
export const CLIENT_IP_HEADERS: readonly string[] = Object.freeze([
  "x-forwarded-for",
  "x-real-ip",
  "true-client-ip",
  "x-client-ip",
  "forwarded",
  "forwarded-for",
  "x-cluster-client-ip",
  "fastly-client-ip",
  "cf-connecting-ip",
  "cf-connecting-ipv6",
]);

/**
 * Resolves the client IP. Headers are scanned in priority order, each value split on `,`; the first
 * public address wins at once, otherwise the first valid private one is kept. The remote address
 * is the starting point: a header address replaces it when the remote address is not public, or
 * when the header address is public. Returns undefined when nothing parses.
 *
 * @param headers lower-cased header names → values, as in {@link HttpRequest.headers}.
 */
export function clientIpFromHeaders(
  headers: Record<string, string[]>,
  options: ClientIpOptions,
): string | undefined {
  const names = options.clientIpHeader ? [options.clientIpHeader.toLowerCase()] : CLIENT_IP_HEADERS;
  const fromHeaders = ipFromHeaderList(headers, names);
  const remote = options.remoteAddress === undefined ? undefined : parseIp(options.remoteAddress);
  if (remote === undefined) return fromHeaders;
  if (fromHeaders === undefined) return remote;
  return isPrivateIp(remote) || !isPrivateIp(fromHeaders) ? fromHeaders : remote;
}

function ipFromHeaderList(
  headers: Record<string, string[]>,
  names: readonly string[],
): string | undefined {
  let firstPrivate: string | undefined;
  for (const name of names) {
    const values = Object.hasOwn(headers, name) ? headers[name] : undefined;
    for (const value of values ?? []) {
      for (const candidate of candidatesOf(name, value)) {
        const ip = parseIp(candidate);
        if (ip === undefined) continue;
        if (!isPrivateIp(ip)) return ip;
        firstPrivate ??= ip;
      }
    }
  }
  return firstPrivate;
}

function candidatesOf(name: string, value: string): string[] {
  if (name === "forwarded") return forwardedForValues(value) ?? [];
  return value.split(",");
}
