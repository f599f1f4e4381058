/**
 * Body bytes to text in the charset a backend would use: a byte order mark first (it wins over the
 * declared charset, as in WHATWG's decode), then the declared charset, then for undeclared bodies
 * the encoding their first bytes reveal (RFC 4627 §3: Jackson and XML parsers still detect
 * UTF-16/32 that way). Charsets WHATWG's TextDecoder lacks but backends decode (UTF-32, UTF-7,
 * EBCDIC) are decoded here: otherwise a payload in them reaches the WAF as bytes that spell nothing.
 */
import { TextDecoder } from "node:util";
import { decodeEbcdic, ebcdicTable, fromCodeUnits } from "./ebcdic.ts";

const UTF8 = new TextDecoder("utf-8");

/**
 * Decodes body bytes as text (UTF-8 when the charset is absent or unknown). Invalid sequences
 * become U+FFFD; a byte order mark selects the encoding and is dropped.
 */
export function decodeText(bytes: Uint8Array, charset: string | undefined): string {
  const bom = bomOf(bytes);
  if (bom) return decodeAs(bytes.subarray(bom.length), bom.encoding);
  if (charset === undefined || /^utf-?8$/i.test(charset)) return UTF8.decode(bytes);
  return decodeAs(bytes, charset.trim().toLowerCase());
}

/**
 * The encoding undeclared text reveals by the zero bytes of its first characters (ASCII in
 * UTF-16/32 starts with `00 xx` or `xx 00`), or EBCDIC for an XML declaration in IBM037 (`<?xm`
 * is `4C 6F A7 94`). Undefined for UTF-8 and anything else.
 */
export function detectCharset(bytes: Uint8Array): string | undefined {
  // Indexing, not destructuring: a typed array destructures through its iterator (slow).
  const a = bytes[0];
  const b = bytes[1];
  const c = bytes[2];
  const d = bytes[3];
  if (a === undefined || b === undefined) return undefined;
  if (a === 0 && b === 0 && c === 0 && d !== undefined && d !== 0) return "utf-32be";
  if (a !== 0 && b === 0 && c === 0 && d === 0) return "utf-32le";
  if (a === 0 && b !== 0) return "utf-16be";
  if (a !== 0 && b === 0) return "utf-16le";
  if (a === 0x4c && b === 0x6f && c === 0xa7 && d === 0x94) return "ibm037";
  return undefined;
}

/** True for UTF-16/32 text, by byte order mark or by the zero bytes of its first characters. */
export function isWideText(bytes: Uint8Array): boolean {
  const bom = bomOf(bytes);
  if (bom) return bom.encoding !== "utf-8";
  return detectCharset(bytes)?.startsWith("utf-") === true;
}

interface Bom {
  encoding: string;
  length: number;
}

function bomOf(bytes: Uint8Array): Bom | undefined {
  const a = bytes[0];
  const b = bytes[1];
  const c = bytes[2];
  const d = bytes[3];
  if (a === 0xef && b === 0xbb && c === 0xbf) return { encoding: "utf-8", length: 3 };
  if (a === 0xff && b === 0xfe) {
    return c === 0 && d === 0
      ? { encoding: "utf-32le", length: 4 }
      : { encoding: "utf-16le", length: 2 };
  }
  if (a === 0xfe && b === 0xff) return { encoding: "utf-16be", length: 2 };
  if (a === 0 && b === 0 && c === 0xfe && d === 0xff) return { encoding: "utf-32be", length: 4 };
  return undefined;
}

/** Decodes with a lower-cased label; labels TextDecoder lacks are handled first. */
function decodeAs(bytes: Uint8Array, label: string): string {
  if (/^(?:utf-?16|ucs-?2|unicode)$/.test(label))
    return decoderFor(utf16Order(bytes)).decode(bytes);
  if (/^(?:utf-?32|ucs-?4)(?:be|le)?$/.test(label)) return decodeUtf32(bytes, label);
  if (/^(?:utf-?7|unicode-1-1-utf-7|csunicode11utf7)$/.test(label)) return decodeUtf7(bytes);
  const ebcdic = ebcdicTable(label);
  if (ebcdic) return decodeEbcdic(bytes, ebcdic);
  return decoderFor(label).decode(bytes);
}

/**
 * Byte order of UTF-16 without a byte order mark. WHATWG reads it as little-endian, Java as
 * big-endian; mostly-ASCII text tells by where its zero bytes are.
 */
function utf16Order(bytes: Uint8Array): string {
  let even = 0;
  let odd = 0;
  for (let i = 0; i < Math.min(bytes.length, 256); i++) {
    if (bytes[i] === 0) {
      if (i % 2 === 0) even++;
      else odd++;
    }
  }
  return even > odd ? "utf-16be" : "utf-16le";
}

const decoders = new Map<string, TextDecoder>();

/** A cached decoder per label WHATWG knows; UTF-8 for unknown labels. */
function decoderFor(label: string): TextDecoder {
  const cached = decoders.get(label);
  if (cached) return cached;
  try {
    const decoder = new TextDecoder(label);
    decoders.set(label, decoder);
    return decoder;
  } catch {
    return UTF8;
  }
}

/** UTF-32 (big-endian unless the label says `le` or the zero bytes say so). */
function decodeUtf32(bytes: Uint8Array, label: string): string {
  const little = label.endsWith("le") || (!label.endsWith("be") && bytes[0] !== 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const units: number[] = [];
  for (let i = 0; i + 4 <= bytes.length; i += 4) {
    const code = view.getUint32(i, little);
    const valid = code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    const point = valid ? code : 0xfffd;
    if (point > 0xffff) units.push(0xd7c0 + (point >> 10), 0xdc00 + (point & 0x3ff));
    else units.push(point);
  }
  return fromCodeUnits(Uint16Array.from(units));
}

/**
 * UTF-7 (RFC 2152): `+` starts modified base64 of UTF-16BE, ended by `-` or any other character;
 * `+-` is a literal `+`. Python and .NET decode it when declared, so `+ADw-script+AD4-` is `<script>`.
 */
function decodeUtf7(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  return text.replace(/\+([A-Za-z0-9+/]*)-?/g, (whole, base64: string) => {
    if (base64 === "") return whole === "+-" ? "+" : whole;
    const raw = Buffer.from(base64, "base64");
    const even = raw.subarray(0, raw.length - (raw.length % 2));
    return Buffer.from(even).swap16().toString("utf16le");
  });
}
