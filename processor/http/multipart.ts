/**
 * `multipart/form-data` bodies (RFC 7578): field values by name, and the names of uploaded files.
 * File contents are never decoded. Works on bytes, so a binary upload costs one search per part.
 */
import { decodeText } from "./content-type.ts";
import { appendOwn, BODY_VALUE_LIMITS, capString, type Notes } from "./limits.ts";

/** What a multipart body holds for the WAF. */
export interface MultipartContent {
  /** Text fields (parts without `filename`): name → values in order. */
  fields: Record<string, string[]>;
  /** File names of the file parts, in order (for `server.request.body.filenames`). */
  filenames: string[];
}

/** Bytes of a field value decoded at most; enough for the WAF's string limit in any UTF-8. */
const MAX_FIELD_BYTES = BODY_VALUE_LIMITS.maxStringLength * 4;

/** Bytes searched for the end of a part's headers. */
const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Parses a multipart body delimited by `boundary`. Parts after the 256th are ignored. A body
 * without its closing delimiter (cut at the limit, or malformed) yields the parts read so far,
 * the last one as far as it goes, with the note `multipart-unterminated`.
 */
export function parseMultipart(
  bytes: Uint8Array,
  boundary: string,
  notes: Notes,
): MultipartContent {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const delimiter = Buffer.from(`--${boundary}`, "latin1");
  const out: MultipartContent = { fields: {}, filenames: [] };
  let at = data.indexOf(delimiter);
  if (at === -1) {
    notes.add("multipart-no-part");
    return out;
  }
  for (let parts = 0; at !== -1; parts++) {
    const after = at + delimiter.length;
    if (data[after] === 0x2d && data[after + 1] === 0x2d) return out; // closing "--boundary--"
    if (parts === BODY_VALUE_LIMITS.maxContainerSize) {
      notes.add("container-truncated");
      return out;
    }
    const next = data.indexOf(delimiter, after);
    const end = next === -1 ? data.length : trimLineBreak(data, next);
    readPart(data.subarray(lineEnd(data, after), end), out, notes);
    at = next;
  }
  notes.add("multipart-unterminated");
  return out;
}

/** Index after the line break that ends the delimiter line (CRLF, or a bare LF). */
function lineEnd(data: Buffer, from: number): number {
  const lf = data.indexOf(0x0a, from);
  return lf === -1 ? data.length : lf + 1;
}

/** The part body ends before the CRLF (or LF) that precedes the next delimiter. */
function trimLineBreak(data: Buffer, delimiterAt: number): number {
  let end = delimiterAt;
  if (data[end - 1] === 0x0a) end--;
  if (data[end - 1] === 0x0d) end--;
  return end;
}

function readPart(part: Buffer, out: MultipartContent, notes: Notes): void {
  // Part headers are short; a part with no blank line early on is all headers, read no further.
  const head = part.subarray(0, MAX_HEADER_BYTES);
  const crlf = head.indexOf("\r\n\r\n");
  const lf = head.indexOf("\n\n");
  const split = crlf !== -1 && (lf === -1 || crlf < lf) ? crlf + 4 : lf === -1 ? -1 : lf + 2;
  const headers = (split === -1 ? head : part.subarray(0, split)).toString("utf8");
  const disposition = dispositionOf(headers);
  if (disposition.filename !== undefined) {
    if (disposition.filename !== "") out.filenames.push(capString(disposition.filename, notes));
    return;
  }
  if (split === -1) return; // headers cut by the end of the body: no value to read
  const body = part.subarray(split, split + MAX_FIELD_BYTES);
  const value = capString(decodeText(body, charsetOf(headers)), notes);
  appendOwn(out.fields, disposition.name ?? "", value);
}

interface Disposition {
  name?: string;
  filename?: string;
}

/** Reads `name` and `filename` (or RFC 5987 `filename*`) from the Content-Disposition header. */
function dispositionOf(headers: string): Disposition {
  const line = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? "";
  const out: Disposition = {};
  for (const [, key = "", quoted, bare] of line.matchAll(PARAM)) {
    const value = quoted === undefined ? (bare ?? "") : quoted.replace(/\\(.)/g, "$1");
    const name = key.toLowerCase();
    if (name === "name") out.name = value;
    else if (name === "filename") out.filename ??= value;
    else if (name === "filename*") out.filename = extendedValue(value);
  }
  return out;
}

const PARAM = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;

/** `UTF-8''na%C3%AFve.txt` → `naïve.txt`; a value that does not decode is kept as written. */
function extendedValue(value: string): string {
  const encoded = value.replace(/^[^']*'[^']*'/, "");
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

function charsetOf(headers: string): string | undefined {
  const type = /^content-type:(.*)$/im.exec(headers)?.[1] ?? "";
  return /charset\s*=\s*"?([\w.:-]+)/i.exec(type)?.[1];
}
