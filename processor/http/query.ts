/**
 * `application/x-www-form-urlencoded` parsing, shared by the query string and form bodies. It
 * follows the WHATWG URL standard (what browsers send): pairs split on `&` only, `+` is a space,
 * `%XX` escapes decode to UTF-8 bytes, and a malformed escape stays as written.
 */
import { appendOwn, BODY_VALUE_LIMITS, capString, type Notes } from "./limits.ts";

/** Caps applied while parsing a form body; the query string is parsed without them. */
export interface UrlEncodedLimits {
  /** Distinct keys kept; later new keys are dropped. */
  maxKeys: number;
  /** Values kept per key; later values are dropped. */
  maxValuesPerKey: number;
  /** Notes collect `container-truncated` / `string-truncated`. */
  notes: Notes;
}

/**
 * Parses a raw query string (the part after `?`; a leading `?` is ignored) into name → values in
 * arrival order. `;` is an ordinary character, as in browsers: the Go reference drops pairs that
 * contain one, which hides them from the WAF's query address. Never throws.
 *
 * @example parseQuery("x=1&x=2&y") // { x: ["1", "2"], y: [""] }
 */
export function parseQuery(rawQuery: string): Record<string, string[]> {
  return parseUrlEncoded(rawQuery.startsWith("?") ? rawQuery.slice(1) : rawQuery);
}

/** Parses urlencoded pairs; with `limits`, keys, values and strings are capped for the WAF. */
export function parseUrlEncoded(raw: string, limits?: UrlEncodedLimits): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let keys = 0;
  let start = 0;
  while (start <= raw.length) {
    let end = raw.indexOf("&", start);
    if (end === -1) end = raw.length;
    if (end > start) {
      const pair = raw.slice(start, end);
      const eq = pair.indexOf("=");
      const key = formDecode(eq === -1 ? pair : pair.slice(0, eq));
      const existing = Object.hasOwn(out, key) ? out[key] : undefined;
      if (limits && !admit(existing, keys, limits)) {
        limits.notes.add("container-truncated");
      } else {
        if (!existing) keys++;
        const value = formDecode(eq === -1 ? "" : pair.slice(eq + 1));
        appendOwn(out, key, limits ? capString(value, limits.notes) : value);
      }
    }
    start = end + 1;
  }
  return out;
}

function admit(existing: string[] | undefined, keys: number, limits: UrlEncodedLimits): boolean {
  return existing ? existing.length < limits.maxValuesPerKey : keys < limits.maxKeys;
}

/** The default caps for form bodies, from {@link BODY_VALUE_LIMITS}. */
export function formLimits(notes: Notes): UrlEncodedLimits {
  const max = BODY_VALUE_LIMITS.maxContainerSize;
  return { maxKeys: max, maxValuesPerKey: max, notes };
}

/** Decodes one form component: `+` → space, then percent-decoding that never throws. */
export function formDecode(component: string): string {
  const spaced = component.includes("+") ? component.replaceAll("+", " ") : component;
  if (!spaced.includes("%")) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return percentDecodeLenient(spaced);
  }
}

const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** WHATWG percent-decode: valid escapes become bytes, others stay, bad UTF-8 becomes U+FFFD. */
function percentDecodeLenient(input: string): string {
  const bytes = Buffer.from(input, "utf8");
  const out = new Uint8Array(bytes.length);
  let j = 0;
  for (let i = 0; i < bytes.length; i++) {
    const hi = hexValue(bytes[i + 1]);
    const lo = hexValue(bytes[i + 2]);
    if (bytes[i] === 0x25 && hi >= 0 && lo >= 0) {
      out[j++] = hi * 16 + lo;
      i += 2;
    } else {
      out[j++] = bytes[i] as number;
    }
  }
  return UTF8.decode(out.subarray(0, j));
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
