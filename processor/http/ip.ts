/** IP address parsing and the public/private test used by client IP resolution. */
import { BlockList, isIPv4, isIPv6 } from "node:net";

/**
 * Ranges that are not "global" in the Go processor's sense (docs/go-compatibility.md#client-ip):
 * private, loopback, link-local unicast, carrier-grade NAT and IPv6 site-local. Node's BlockList
 * also matches IPv4-mapped IPv6 addresses against the IPv4 ranges.
 */
const NON_GLOBAL = new BlockList();
for (const [net, prefix] of [
  ["10.0.0.0", 8],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["100.64.0.0", 10],
] as const) {
  NON_GLOBAL.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["fc00::", 7],
  ["::1", 128],
  ["fe80::", 10],
  ["fec0::", 10],
] as const) {
  NON_GLOBAL.addSubnet(net, prefix, "ipv6");
}

/**
 * Whether `ip` is a valid address in a non-global range: 10/8, 172.16/12, 192.168/16, 127/8,
 * 169.254/16, 100.64/10, fc00::/7, ::1, fe80::/10, fec0::/10 (IPv4-mapped forms included).
 * Returns false for anything that is not an IP address.
 */
export function isPrivateIp(ip: string): boolean {
  if (isIPv4(ip)) return NON_GLOBAL.check(ip, "ipv4");
  if (isIPv6(ip) && !ip.includes("%")) return NON_GLOBAL.check(ip, "ipv6");
  return false;
}

/**
 * Parses `ip`, `ip:port`, `[v6]` or `[v6]:port` into a bare address, or undefined. IPv4-mapped
 * IPv6 addresses collapse to IPv4 so that `::ffff:1.2.3.4` and `1.2.3.4` compare equal. Zone-scoped
 * addresses (`fe80::1%eth0`) are rejected: a zone means nothing outside the host that sent it.
 */
export function parseIp(candidate: string): string | undefined {
  const text = candidate.trim();
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close === -1 || !isPortSuffix(text.slice(close + 1))) return undefined;
    return bareIp(text.slice(1, close), true);
  }
  const colon = text.indexOf(":");
  if (colon !== -1 && colon === text.lastIndexOf(":")) {
    return isPortSuffix(text.slice(colon)) && isIPv4(text.slice(0, colon))
      ? text.slice(0, colon)
      : undefined;
  }
  return bareIp(text, false);
}

function isPortSuffix(rest: string): boolean {
  return rest === "" || /^:\d{1,5}$/.test(rest);
}

function bareIp(text: string, v6Only: boolean): string | undefined {
  if (!v6Only && isIPv4(text)) return text;
  if (!isIPv6(text) || text.includes("%")) return undefined;
  return unmapIpv4(text.toLowerCase());
}

function unmapIpv4(ip: string): string {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (dotted?.[1] && isIPv4(dotted[1])) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ip);
  if (!hex?.[1] || !hex[2]) return ip;
  const high = Number.parseInt(hex[1], 16);
  const low = Number.parseInt(hex[2], 16);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
}
