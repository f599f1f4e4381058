/**
 * Percent-decoding as the backends that disagree with browsers do it. WHATWG decoding (query.ts)
 * is the primary reading; these are the other readings of the same component, computed only when
 * the component shows the shape that makes them differ:
 * - double encoding (`%253C`): a framework decodes once more after the proxy or router did;
 * - IIS `%uXXXX` escapes (`%u003C`), which ASP.NET and IIS decode;
 * - overlong UTF-8 (`%C0%BC` is `<`, `%C0%AF` is `/`): lax decoders (old Java, IIS, PHP's
 *   `utf8_decode` paths) accept it where WHATWG yields U+FFFD;
 * - fullwidth and other compatibility characters (`%EF%BC%9C` is `＜`), folded to ASCII by NFKC;
 * - a declared form charset other than UTF-8 (`%E9` is `é` in Latin-1, `%3C%00` is `<` in UTF-16LE).
 */
import { decodeText } from "./charset.ts";
import { BODY_VALUE_LIMITS } from "./limits.ts";

/** Input looked at for variants: enough for the WAF's string limit, `%XX` three times over. */
const MAX_VARIANT_INPUT = BODY_VALUE_LIMITS.maxStringLength * 9;

/**
 * The other readings of a raw form component (`+` still meaning space) whose WHATWG decoding is
 * `decoded`, without repeats and without the primary reading itself. Three substring checks
 * when there is nothing to add; otherwise bounded: only the first characters that the WAF's
 * string limit can keep are decoded.
 */
export function percentVariants(rawComponent: string, rawDecoded: string): readonly string[] {
  const shapes = escapeShapes(rawComponent);
  if (shapes === 0) return NONE;
  const spaced = rawComponent.includes("+") ? rawComponent.replaceAll("+", " ") : rawComponent;
  const component = spaced.slice(0, MAX_VARIANT_INPUT);
  const decoded = rawDecoded.slice(0, MAX_VARIANT_INPUT);
  const out: string[] = [];
  const add = (variant: string) => {
    if (variant !== decoded && !out.includes(variant)) out.push(variant);
  };
  if (shapes & IIS && /%u[0-9a-f]{4}/i.test(component)) add(decodeIis(component));
  if (shapes & NON_ASCII) {
    if (decoded.includes("\uFFFD")) add(decodeUtf8Lax(percentBytes(component)));
    // Fullwidth and compatibility forms (`％`, `＜`) that backends fold to ASCII: NFKC in
    // Python and Java normalisers, Windows "best fit" conversions.
    add(decoded.normalize("NFKC"));
  }
  if (shapes & TWICE && /%[0-9a-f]{2}/i.test(decoded)) add(decodeUtf8Lax(percentBytes(decoded)));
  return out;
}

const IIS = 1;
const NON_ASCII = 2;
const TWICE = 4;

/**
 * Which variants the escapes of `raw` make possible, in one pass over its `%` signs (ASCII
 * escapes such as `%20` or `%3C`, the usual case, make none): `%u` (IIS), an escape of a byte
 * above 0x7F (overlong UTF-8), `%25` or a `%` not followed by two hex digits (left for a second
 * decoding).
 */
function escapeShapes(raw: string): number {
  let shapes = 0;
  for (let at = raw.indexOf("%"); at !== -1; at = raw.indexOf("%", at + 1)) {
    const next = raw.charCodeAt(at + 1);
    if (next === 0x75 || next === 0x55) {
      shapes |= IIS;
      continue;
    }
    const hi = hexValue(next);
    const lo = hexValue(raw.charCodeAt(at + 2));
    if (hi < 0 || lo < 0 || (hi === 2 && lo === 5)) shapes |= TWICE;
    else if (hi >= 8) shapes |= NON_ASCII;
  }
  return shapes;
}

const NONE: readonly string[] = Object.freeze([]);

/** Percent-decodes with a declared charset (the percent-encoded bytes are in that charset). */
export function percentDecodeIn(component: string, charset: string): string {
  return decodeText(percentBytes(component), charset);
}

/** WHATWG percent-decode to bytes: valid escapes become bytes, everything else its UTF-8. */
export function percentBytes(input: string): Uint8Array {
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
  return out.subarray(0, j);
}

/** The value of an ASCII hex digit byte, or -1 (also for NaN, past the end of a string). */
export function hexValue(byte: number | undefined): number {
  if (byte === undefined || Number.isNaN(byte)) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** `%uXXXX` becomes that UTF-16 unit; the rest is percent-decoded as UTF-8. */
function decodeIis(component: string): string {
  const parts = component.split(/(%u[0-9a-fA-F]{4})/);
  return parts
    .map((part, i) =>
      i % 2 === 1
        ? String.fromCharCode(Number.parseInt(part.slice(2), 16))
        : decodeUtf8Lax(percentBytes(part)),
    )
    .join("");
}

/**
 * UTF-8 decoding that also accepts overlong forms (`C0 BC` → `<`) and surrogates, as lax
 * decoders do. Other invalid bytes become U+FFFD.
 */
export function decodeUtf8Lax(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const length = sequenceLength(bytes[i] as number);
    const point = length === 0 ? undefined : sequenceValue(bytes, i, length);
    if (point === undefined) {
      out += "\uFFFD";
      i++;
      continue;
    }
    out += String.fromCodePoint(point);
    i += length;
  }
  return out;
}

/** Bytes in the sequence a lead byte starts; 0 for a byte that cannot lead. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead < 0xc0) return 0;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  return lead < 0xf8 ? 4 : 0;
}

const LEAD_MASK = [0, 0x7f, 0x1f, 0x0f, 0x07];

/** The code point of the `length`-byte sequence at `at`, or undefined when it is broken. */
function sequenceValue(bytes: Uint8Array, at: number, length: number): number | undefined {
  let point = (bytes[at] as number) & (LEAD_MASK[length] as number);
  for (let k = 1; k < length; k++) {
    const byte = bytes[at + k];
    if (byte === undefined || (byte & 0xc0) !== 0x80) return undefined;
    point = (point << 6) | (byte & 0x3f);
  }
  return point <= 0x10ffff ? point : undefined;
}
