/** Body parsing by content type, into the plain structure the WAF expects. */
import { codingsOf, decodeContent } from "./content-encoding.ts";
import {
  type BodyKind,
  bodyKindFromContentType,
  decodeText,
  parseMediaType,
} from "./content-type.ts";
import { parseJsonText } from "./json.ts";
import { BODY_VALUE_LIMITS, capString, type Notes } from "./limits.ts";
import { parseMultipart } from "./multipart.ts";
import { formLimits, parseUrlEncoded } from "./query.ts";
import { parseXmlText } from "./xml.ts";

/** Why a body was not analysed. */
export type BodySkipReason =
  /** No bytes (after decoding). */
  | "empty-body"
  /** The content type is missing or not inspectable (see bodyKindFromContentType). */
  | "unsupported-content-type"
  /** A content coding other than gzip, x-gzip, deflate, br or identity, or more than 3 layers. */
  | "unsupported-encoding"
  /** The compressed data was corrupt before any output. */
  | "decompression-failed"
  /** `multipart/form-data` without a `boundary` parameter. */
  | "multipart-no-boundary"
  /** The body parsed to nothing inspectable (an XML body of only comments). */
  | "no-content";

/** Options of {@link parseBody}. */
export interface ParseBodyOptions {
  /** The `content-type` header value. */
  contentType?: string;
  /** The `content-encoding` header value. */
  contentEncoding?: string;
  /** The body was cut at the limit (from the body buffer): parse leniently. */
  truncated: boolean;
  /** Body limit in bytes; also bounds the inflated size of an encoded body. */
  limit: number;
}

/**
 * A parsed body. `notes` says what was cut or repaired (`body-truncated`, `json-repaired`,
 * `json-malformed-as-text`, `depth-truncated`, `container-truncated`, `string-truncated`,
 * `multipart-unterminated`, `xml-malformed`, `xml-unclosed`, `xml-doctype-ignored`, `decoded`...).
 * `filenames` is set for multipart bodies only.
 */
export type BodyParseResult =
  | { ok: true; value: unknown; notes: string[]; filenames?: string[] }
  | { ok: false; reason: BodySkipReason };

/**
 * Parses a body for the WAF. Content codings are undone first, bounded by `limit`, which is why
 * this is asynchronous (see decodeContent). Value shapes by kind:
 * - json: the parsed value (cut to the WAF limits); malformed text that cannot be repaired is
 *   passed as one string, so the WAF still sees it;
 * - urlencoded: `Record<string, string[]>`, decoded like the query string;
 * - multipart: `Record<string, string[]>` of text fields, with file names in `filenames`;
 * - xml: an XmlElement tree (`{ attributes?, children? }`);
 * - text: the string.
 * Never throws and never rejects.
 */
export async function parseBody(
  bytes: Uint8Array,
  options: ParseBodyOptions,
): Promise<BodyParseResult> {
  if (codingsOf(options.contentEncoding).length === 0) return parseDecodedBody(bytes, options);
  if (bodyKindFromContentType(options.contentType) === undefined) {
    return { ok: false, reason: "unsupported-content-type" };
  }
  const decoded = await decodeContent(bytes, options.contentEncoding, options.limit);
  if (!decoded.ok) return decoded;
  const truncated = options.truncated || decoded.truncated;
  const result = parseDecodedBody(decoded.bytes, { ...options, truncated });
  return result.ok ? { ...result, notes: ["decoded", ...result.notes] } : result;
}

/**
 * {@link parseBody} for bytes that carry no content coding (`contentEncoding` is ignored).
 * Synchronous.
 */
export function parseDecodedBody(bytes: Uint8Array, options: ParseBodyOptions): BodyParseResult {
  const kind = bodyKindFromContentType(options.contentType);
  if (kind === undefined) return { ok: false, reason: "unsupported-content-type" };
  const params = parseMediaType(options.contentType ?? "")?.params;
  const boundary = params?.get("boundary");
  if (kind === "multipart" && !boundary) return { ok: false, reason: "multipart-no-boundary" };
  if (bytes.byteLength === 0) return { ok: false, reason: "empty-body" };
  const notes: Notes = new Set(options.truncated ? ["body-truncated"] : []);
  const charset = params?.get("charset");
  if (kind === "multipart") {
    const { fields, filenames } = parseMultipart(bytes, boundary ?? "", notes);
    return { ok: true, value: fields, notes: [...notes], filenames };
  }
  const value = parseByKind(kind, bytes, charset, options.truncated, notes);
  if (value === undefined) return { ok: false, reason: "no-content" };
  return { ok: true, value, notes: [...notes] };
}

function parseByKind(
  kind: Exclude<BodyKind, "multipart">,
  bytes: Uint8Array,
  charset: string | undefined,
  truncated: boolean,
  notes: Notes,
): unknown {
  switch (kind) {
    case "json":
      return jsonValue(decodeText(bytes, charset), truncated, notes);
    case "urlencoded":
      return parseUrlEncoded(decodeText(bytes, charset), formLimits(notes));
    case "xml":
      return parseXmlText(decodeText(bytes, charset), notes);
    case "text":
      return textValue(bytes, charset, notes);
  }
}

function jsonValue(text: string, truncated: boolean, notes: Notes): unknown {
  const parsed = parseJsonText(text, truncated, notes);
  if (parsed) return parsed.value;
  notes.add("json-malformed-as-text");
  return capString(text, notes);
}

/** Decodes only what the string limit can keep: a 10 MB line costs 16 KiB of decoding. */
function textValue(bytes: Uint8Array, charset: string | undefined, notes: Notes): string {
  const max = BODY_VALUE_LIMITS.maxStringLength * 4;
  if (bytes.byteLength > max) notes.add("string-truncated");
  return capString(decodeText(bytes.subarray(0, max), charset), notes);
}
