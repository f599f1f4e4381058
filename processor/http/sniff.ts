/**
 * What body bytes are, whatever their headers say: a compressed stream, a known binary format, or
 * text shaped like JSON, XML or a form. Every check reads a bounded prefix, so sniffing costs the
 * same on a 10 MiB upload as on a 100-byte one; nothing here parses.
 */

/** A compression signature: gzip (RFC 1952), zlib (RFC 1950) or zstd (RFC 8878). */
export type Compression = "gzip" | "deflate" | "zstd";

/**
 * The compression whose magic bytes start `bytes`. Brotli has no signature: see
 * {@link looksBinary}. Only zlib headers with the four usual levels count (`78 01/5E/9C/DA`),
 * so text starting with `x` is not taken for zlib.
 */
export function compressionOf(bytes: Uint8Array): Compression | undefined {
  // Indexing, not destructuring: a typed array destructures through its iterator (slow).
  const a = bytes[0];
  const b = bytes[1];
  const c = bytes[2];
  const d = bytes[3];
  if (a === 0x1f && b === 0x8b && c === 0x08) return "gzip";
  if (a === 0x78 && (b === 0x01 || b === 0x5e || b === 0x9c || b === 0xda)) return "deflate";
  if (a === 0x28 && b === 0xb5 && c === 0x2f && d === 0xfd) return "zstd";
  return undefined;
}

/** Magic bytes of formats uploaded as files: never parsed as text, whatever they declare. */
const BINARY_SIGNATURES: ReadonlyArray<readonly number[]> = [
  [0x89, 0x50, 0x4e, 0x47], // PNG
  [0xff, 0xd8, 0xff], // JPEG
  [0x47, 0x49, 0x46, 0x38], // GIF8
  [0x25, 0x50, 0x44, 0x46], // %PDF
  [0x50, 0x4b, 0x03, 0x04], // ZIP, and OOXML, JAR, APK
  [0x50, 0x4b, 0x05, 0x06], // empty ZIP
  [0x52, 0x61, 0x72, 0x21], // RAR
  [0x37, 0x7a, 0xbc, 0xaf], // 7z
  [0x42, 0x5a, 0x68], // bzip2
  [0xfd, 0x37, 0x7a, 0x58, 0x5a], // xz
  [0x52, 0x49, 0x46, 0x46], // RIFF: WebP, WAV, AVI
  [0x49, 0x49, 0x2a, 0x00], // TIFF little-endian
  [0x4d, 0x4d, 0x00, 0x2a], // TIFF big-endian
  [0x42, 0x4d], // BMP
  [0x00, 0x00, 0x01, 0x00], // ICO
  [0x7f, 0x45, 0x4c, 0x46], // ELF
  [0x4d, 0x5a], // Windows executable
  [0x00, 0x61, 0x73, 0x6d], // WebAssembly
  [0xd0, 0xcf, 0x11, 0xe0], // OLE (legacy Office)
  [0x4f, 0x67, 0x67, 0x53], // Ogg
  [0x49, 0x44, 0x33], // MP3 with ID3
  [0x1a, 0x45, 0xdf, 0xa3], // Matroska, WebM
  [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65], // SQLite
];

/** True when `bytes` start like a known binary file format (images, archives, executables...). */
export function isKnownBinary(bytes: Uint8Array): boolean {
  if (BINARY_SIGNATURES.some((signature) => startsWith(bytes, signature, 0))) return true;
  // ISO BMFF (MP4, MOV, HEIC, AVIF) has `ftyp` at offset 4; tar has `ustar` at 257.
  return startsWith(bytes, [0x66, 0x74, 0x79, 0x70], 4) || startsWith(bytes, USTAR, 257);
}

const USTAR = [0x75, 0x73, 0x74, 0x61, 0x72];

function startsWith(bytes: Uint8Array, signature: readonly number[], at: number): boolean {
  if (bytes.length < at + signature.length) return false;
  return signature.every((byte, i) => bytes[at + i] === byte);
}

/** Bytes looked at by {@link looksBinary}. */
const SNIFF_BYTES = 512;

/**
 * True when the first `length` bytes hold control characters text never has (NUL, and C0
 * controls other than tab, line feeds, form feed and escape): binary, UTF-16/32 (their ASCII has
 * zero bytes), or compressed without a signature (brotli).
 */
export function looksBinary(bytes: Uint8Array, length = SNIFF_BYTES): boolean {
  const end = Math.min(bytes.length, length);
  for (let i = 0; i < end; i++) {
    const byte = bytes[i] as number;
    if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0c && byte !== 0x0d) {
      if (byte !== 0x1b) return true;
    }
  }
  return false;
}

/** The structured kind text is shaped like; see {@link sniffTextKind}. */
export type SniffedKind = "json" | "xml" | "urlencoded";

/**
 * What text looks like from its start: `{` or `[` is JSON, `<` is XML, and (with `form`) a run of
 * `name=value&...` without spaces or line breaks is a form. Reads at most `SNIFF_BYTES` characters
 * past leading whitespace; without `form` it looks at one character.
 */
export function sniffTextKind(text: string, form: boolean): SniffedKind | undefined {
  const start = firstNonSpace(text);
  const first = text.charAt(start);
  if (first === "{" || first === "[") return "json";
  if (first === "<") return "xml";
  if (!form) return undefined;
  return FORM.test(text.slice(start, start + SNIFF_BYTES)) ? "urlencoded" : undefined;
}

/**
 * An SVG image or an HTML page: markup uploaded as a file, not a document a backend parses as
 * data. Reading it as XML would put every script of an uploaded page in front of the WAF.
 */
export function isMarkupDocument(text: string): boolean {
  return /<(?:svg|html)[\s>]|<!doctype\s+(?:html|svg)/i.test(text.slice(0, SNIFF_BYTES * 2));
}

/** `name=value` pairs joined by `&`, as far as the prefix goes: what browsers and clients send. */
const FORM = /^[^\s=&{}<>"]+=[^\s&]*(?:&[^\s=&]*(?:=[^\s&]*)?)*(?:&|$)/;

/** Index of the first character that is not JSON whitespace. */
export function firstNonSpace(text: string): number {
  let i = 0;
  while (i < text.length && " \t\n\r".includes(text.charAt(i))) i++;
  return i;
}
