/**
 * One multipart part: its headers read leniently (folded lines, any case, repeated headers and
 * parameters), and the value of a field part decoded as the backend would (transfer encoding,
 * charset, JSON or XML content type).
 */
import { decodeText, detectCharset } from "./charset.ts";
import { kindOf } from "./content-type.ts";
import { parseJsonText } from "./json.ts";
import { BODY_VALUE_LIMITS, capString, type Notes } from "./limits.ts";
import { type MediaType, paramValues, parseMediaType, parseParameterized } from "./media-type.ts";
import { isKnownBinary } from "./sniff.ts";
import { decodeTransfer } from "./transfer-encoding.ts";
import { parseXmlText } from "./xml.ts";

/** What the headers of a part say. */
export interface PartHeaders {
  /** Every `name` of every Content-Disposition line (backends differ on which one wins). */
  names: string[];
  /** Every file name: `filename`, `filename*` (RFC 5987) and RFC 2231 sections, empty ones too. */
  filenames: string[];
  contentType: MediaType | undefined;
  transferEncoding: string | undefined;
}

/**
 * Reads part headers. Obsolete line folding (a line starting with whitespace continues the
 * previous one) is undone, names are case-insensitive and may have spaces before the colon.
 */
export function parsePartHeaders(text: string): PartHeaders {
  const lines = headerLines(text);
  const names: string[] = [];
  const filenames: string[] = [];
  for (const value of lines.get("content-disposition") ?? []) {
    const disposition = parseParameterized(value);
    for (const name of paramValues(disposition, "name"))
      if (!names.includes(name)) names.push(name);
    filenames.push(...paramValues(disposition, "filename"));
  }
  const type = lines.get("content-type")?.[0];
  return {
    names,
    filenames,
    contentType: type === undefined ? undefined : parseMediaType(type),
    transferEncoding: lines.get("content-transfer-encoding")?.[0],
  };
}

function headerLines(text: string): Map<string, string[]> {
  const lines = new Map<string, string[]>();
  for (const line of text.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const values = lines.get(name) ?? [];
    values.push(line.slice(colon + 1).trim());
    lines.set(name, values);
  }
  return lines;
}

/** Bytes of a text field decoded at most: enough for the WAF's string limit in any UTF-8. */
const MAX_FIELD_BYTES = BODY_VALUE_LIMITS.maxStringLength * 4;

/**
 * The value of a field part: its transfer encoding undone, decoded in its charset (else
 * `defaultCharset`, from a `_charset_` field), and parsed when its type is JSON or XML (read
 * whole, as a JSON body is; a text field is read as far as the string limit goes). Known binary
 * content is not a value.
 */
export function fieldValue(
  body: Uint8Array,
  headers: PartHeaders,
  defaultCharset: string | undefined,
  notes: Notes,
): unknown {
  const media = headers.contentType;
  const kind = media === undefined ? undefined : kindOf(media.essence);
  const whole = kind === "json" || kind === "xml";
  // Quoted-printable takes up to three bytes per byte, base64 four per three.
  const max = whole ? body.length : MAX_FIELD_BYTES * 3;
  const raw = body.subarray(0, max);
  const bytes = decodeTransfer(raw, headers.transferEncoding);
  if (bytes !== raw) notes.add("multipart-transfer-decoded");
  if (isKnownBinary(bytes)) return undefined;
  const charset = media?.params.get("charset") ?? defaultCharset ?? detectCharset(bytes);
  const text = decodeText(whole ? bytes : bytes.subarray(0, MAX_FIELD_BYTES), charset);
  if (kind === "json") {
    const parsed = parseJsonText(text, false, notes);
    if (parsed) return parsed.value;
  }
  if (kind === "xml") {
    const parsed = parseXmlText(text, notes);
    if (parsed) return parsed;
  }
  return capString(text, notes);
}
