/**
 * Multipart bodies (`multipart/form-data`, RFC 7578; `mixed` and `related`): field values by name,
 * and the names of uploaded files. File contents are never decoded. Works on bytes, so a binary
 * upload costs one search per part. Nested multipart parts (RFC 7578 §4.3's deprecated
 * `multipart/mixed` of several files for one field) are read too, their fields under the outer
 * part's name, so nesting cannot hide a field or a file name.
 */
import { kindOf } from "./content-type.ts";
import { appendOwn, BODY_VALUE_LIMITS, capString, type Notes } from "./limits.ts";
import { fieldValue, type PartHeaders, parsePartHeaders } from "./multipart-part.ts";

/** What a multipart body holds for the WAF. */
export interface MultipartContent {
  /** Field parts (parts without a file name): name → values in order (text, or parsed JSON/XML). */
  fields: Record<string, unknown[]>;
  /** File names of the file parts, in order (for `server.request.body.filenames`). */
  filenames: string[];
}

/** Bytes searched for the end of a part's headers. */
const MAX_HEADER_BYTES = 16 * 1024;

/** Multipart levels read: a form, a nested `multipart/mixed`, and one more. */
const MAX_NESTING = 3;

interface Context {
  readonly out: MultipartContent;
  readonly notes: Notes;
  /** Parts read so far, nested ones included: at most `maxContainerSize` in all. */
  parts: number;
  /** Default charset of text fields, from a `_charset_` field (HTML's form submission). */
  charset: string | undefined;
}

/**
 * Parses a multipart body delimited by `boundary`. Parts after the 256th (nested ones included)
 * are ignored. A body without its closing delimiter (cut at the limit, or malformed) yields the
 * parts read so far, the last one as far as it goes, with the note `multipart-unterminated`.
 */
export function parseMultipart(
  bytes: Uint8Array,
  boundary: string,
  notes: Notes,
): MultipartContent {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const context: Context = {
    out: { fields: {}, filenames: [] },
    notes,
    parts: 0,
    charset: undefined,
  };
  readParts(data, boundary, context, 1, undefined);
  return context.out;
}

function readParts(
  data: Buffer,
  boundary: string,
  context: Context,
  depth: number,
  outerName: string | undefined,
): void {
  const delimiter = Buffer.from(`--${boundary}`, "latin1");
  let at = data.indexOf(delimiter);
  if (at === -1) {
    context.notes.add("multipart-no-part");
    return;
  }
  while (at !== -1) {
    const after = at + delimiter.length;
    if (data[after] === 0x2d && data[after + 1] === 0x2d) return; // closing "--boundary--"
    if (context.parts === BODY_VALUE_LIMITS.maxContainerSize) {
      context.notes.add("container-truncated");
      return;
    }
    context.parts++;
    const next = data.indexOf(delimiter, after);
    const end = next === -1 ? data.length : trimLineBreak(data, next);
    readPart(data.subarray(lineEnd(data, after), end), context, depth, outerName);
    at = next;
  }
  context.notes.add("multipart-unterminated");
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

function readPart(part: Buffer, context: Context, depth: number, outerName?: string): void {
  // Part headers are short; a part with no blank line early on is all headers, read no further.
  const head = part.subarray(0, MAX_HEADER_BYTES);
  const crlf = head.indexOf("\r\n\r\n");
  const lf = head.indexOf("\n\n");
  const split = crlf !== -1 && (lf === -1 || crlf < lf) ? crlf + 4 : lf === -1 ? -1 : lf + 2;
  const headers = parsePartHeaders(
    (split === -1 ? head : part.subarray(0, split)).toString("utf8"),
  );
  const names = headers.names.length > 0 ? headers.names : [outerName ?? ""];
  for (const filename of headers.filenames) {
    if (filename !== "") context.out.filenames.push(capString(filename, context.notes));
  }
  if (split === -1) return; // headers cut by the end of the body: no value to read
  const body = part.subarray(split);
  if (readNested(body, headers, context, depth, names[0])) return;
  // A part with a non-empty file name is a file; Go and others treat `filename=""` as a field.
  if (headers.filenames.some((filename) => filename !== "")) return;
  const value = fieldValue(body, headers, context.charset, context.notes);
  if (value === undefined) return;
  if (headers.names.length === 0 && outerName === undefined && isJsonMap(value, headers)) {
    // An unnamed JSON part is the document of a multipart/related body (a JSON:API or Google
    // upload's metadata): its keys are the fields the backend reads.
    for (const [key, item] of Object.entries(value)) appendOwn(context.out.fields, key, item);
    return;
  }
  for (const name of names) appendOwn(context.out.fields, name, value);
  if (names.includes("_charset_") && typeof value === "string") context.charset = value.trim();
}

function isJsonMap(value: unknown, headers: PartHeaders): value is Record<string, unknown> {
  const essence = headers.contentType?.essence;
  const json = essence !== undefined && kindOf(essence) === "json";
  return json && typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads a part that is itself multipart; false when it is not (or nesting is too deep). */
function readNested(
  body: Buffer,
  headers: PartHeaders,
  context: Context,
  depth: number,
  name: string | undefined,
): boolean {
  const media = headers.contentType;
  const boundary = media?.params.get("boundary");
  if (!media?.essence.startsWith("multipart/") || !boundary) return false;
  if (depth === MAX_NESTING) {
    context.notes.add("depth-truncated");
    return true;
  }
  context.notes.add("multipart-nested");
  readParts(body, boundary, context, depth + 1, name);
  return true;
}
