/** `Cookie` header parsing for the WAF's cookie address. */
import { appendOwn } from "./limits.ts";
import { formDecode } from "./query.ts";

/**
 * Parses every `Cookie` header value into name → values, in arrival order. Pairs are split on
 * `;`, names and values are trimmed, and one pair of surrounding double quotes is removed from a
 * value. The value as sent comes first, as in the Go reference; a value with `%` escapes also
 * gets its decoded reading, since PHP, Express's cookie-parser and Rails decode cookie values
 * (the WAF's own URL-decoding transforms are not on every rule). A pair without `=` is a name
 * with an empty value (Go does the same); a pair with an empty name is skipped. Unlike Go, values
 * with characters RFC 6265 forbids (quotes, backslashes) are kept, so they cannot hide a payload.
 */
export function parseCookies(headerValues: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const header of headerValues) {
    for (const part of header.split(";")) {
      const eq = part.indexOf("=");
      const name = (eq === -1 ? part : part.slice(0, eq)).trim();
      if (name === "") continue;
      const value = eq === -1 ? "" : unquote(part.slice(eq + 1).trim());
      appendOwn(out, name, value);
      const decoded = value.includes("%") ? formDecode(value) : value;
      if (decoded !== value) appendOwn(out, name, decoded);
    }
  }
  return out;
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
    ? value.slice(1, -1)
    : value;
}
