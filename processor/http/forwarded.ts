/** RFC 7239 `Forwarded` header parsing, reduced to what client IP resolution needs. */

/** RFC 7230 `tchar`: what an unquoted parameter value may contain. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Sticky, so reading a value never copies the rest of a long header. */
const UNQUOTED = /[^;,\s]*/y;

/**
 * Returns the `for=` values of a `Forwarded` header in order, unquoted but otherwise as written
 * (ports and brackets are left to the IP parser). A syntax error anywhere drops the whole header,
 * as in the Go reference; notably an unquoted `for=1.2.3.4:80` is an error because `:` is not a
 * token character. Returns undefined on a syntax error.
 */
export function forwardedForValues(header: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (i < header.length) {
    const eq = header.indexOf("=", i);
    if (eq === -1) return undefined;
    const name = header
      .slice(i, eq)
      .replace(/^[\s,;]+/, "")
      .trim();
    const value = readValue(header, eq + 1);
    if (!value || !TOKEN.test(name)) return undefined;
    if (name.toLowerCase() === "for") out.push(value.text);
    i = value.end;
    while (i < header.length && /\s/.test(header.charAt(i))) i++;
    if (i < header.length && !/[;,]/.test(header.charAt(i))) return undefined;
    i++;
  }
  return out;
}

function readValue(header: string, start: number): { text: string; end: number } | undefined {
  let i = start;
  while (header.charAt(i) === " ") i++;
  if (header.charAt(i) !== '"') {
    UNQUOTED.lastIndex = i;
    const text = UNQUOTED.exec(header)?.[0] ?? "";
    return TOKEN.test(text) ? { text, end: i + text.length } : undefined;
  }
  let text = "";
  for (i++; i < header.length; i++) {
    const c = header.charAt(i);
    if (c === '"') return { text, end: i + 1 };
    if (c === "\\") i++;
    text += header.charAt(i);
  }
  return undefined;
}
