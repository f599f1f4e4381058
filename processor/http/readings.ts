/**
 * The readings of decoded body bytes under one plan: the declared kind, plus the structured
 * reading the text itself shows when it disagrees with the declaration (JSON sent as a form or as
 * `text/plain`, a form sent as JSON), or, for a body whose type says nothing, what it sniffs as.
 * Extra readings cost a first-character check on clean bodies; the rest runs only when the text
 * disagrees with its type or the declared parse fails.
 */
import { decodeText, detectCharset, isWideText } from "./charset.ts";
import type { BodyKind, BodyPlan } from "./content-type.ts";
import { parseJsonText } from "./json.ts";
import { BODY_VALUE_LIMITS, capString, type Notes } from "./limits.ts";
import { parseMultipart } from "./multipart.ts";
import { formLimits, parseUrlEncoded } from "./query.ts";
import {
  isKnownBinary,
  isMarkupDocument,
  looksBinary,
  type SniffedKind,
  sniffTextKind,
} from "./sniff.ts";
import { parseXmlText } from "./xml.ts";

/** Values read under one plan; `filenames` for multipart plans only. */
export interface Reading {
  values: unknown[];
  filenames?: string[];
}

/** Reads `bytes` as `plan` says. Never throws. */
export function readPlan(
  bytes: Uint8Array,
  plan: BodyPlan,
  truncated: boolean,
  notes: Notes,
): Reading {
  switch (plan.kind) {
    case "multipart": {
      if (plan.boundary === undefined) return { values: [] };
      const { fields, filenames } = parseMultipart(bytes, plan.boundary, notes);
      return { values: [fields], filenames };
    }
    case "sniff":
      return { values: readSniffed(bytes, truncated, notes) };
    default:
      return {
        values: readDeclared(plan.kind, bytes, charsetFor(plan, bytes, notes), truncated, notes),
      };
  }
}

/**
 * The charset to decode with: the declared one, else what the bytes reveal (UTF-16/32 by their
 * zero bytes, an XML declaration). For JSON, UTF-16/32 bytes win over a declared charset, as
 * Jackson's encoding detection does (a NUL-laden UTF-8 reading of them can never be JSON).
 */
function charsetFor(plan: BodyPlan, bytes: Uint8Array, notes: Notes): string | undefined {
  const detected = detectCharset(bytes);
  const wide = detected?.startsWith("utf-") === true;
  if (plan.charset !== undefined && !(plan.kind === "json" && wide)) return plan.charset;
  const charset = detected ?? (plan.kind === "xml" ? xmlDeclaredCharset(bytes) : undefined);
  if (charset !== undefined) notes.add(`charset-detected:${charset}`);
  return charset;
}

/** The `encoding` of an `<?xml ...?>` declaration when it is not UTF-8. */
function xmlDeclaredCharset(bytes: Uint8Array): string | undefined {
  if (bytes[0] !== 0x3c || bytes[1] !== 0x3f) return undefined;
  const head = Buffer.from(bytes.subarray(0, 200)).toString("latin1");
  const encoding = /^<\?xml[^>]*?\bencoding\s*=\s*["']([\w.:-]+)["']/.exec(head)?.[1];
  return encoding === undefined || /^utf-?8$/i.test(encoding) ? undefined : encoding;
}

function readDeclared(
  kind: Exclude<BodyKind, "multipart">,
  bytes: Uint8Array,
  charset: string | undefined,
  truncated: boolean,
  notes: Notes,
): unknown[] {
  if (kind === "text") return textReadings(bytes, charset, truncated, notes);
  const text = decodeText(bytes, charset);
  switch (kind) {
    case "json":
      return jsonReadings(text, truncated, notes);
    case "urlencoded":
      return [
        parseUrlEncoded(text, formLimits(notes), charset),
        ...alsoAs(text, kind, truncated, notes),
      ];
    case "xml": {
      const xml = parseXmlText(text, notes);
      return [...(xml ? [xml] : []), ...alsoAs(text, kind, truncated, notes)];
    }
  }
}

/**
 * A JSON body: its value; when the text is not clean JSON, its raw text too (capped, as before
 * the tolerant reader existed) and the form or XML it may be instead.
 */
function jsonReadings(text: string, truncated: boolean, notes: Notes): unknown[] {
  const parsed = parseJsonText(text, truncated, notes);
  if (parsed && !parsed.malformed) return [parsed.value];
  if (!parsed) notes.add("json-malformed-as-text");
  const values = parsed ? [parsed.value] : [];
  return [...values, capString(text, notes), ...alsoAs(text, "json", truncated, notes)];
}

/**
 * `text/plain`: the text as far as the string limit goes (a 10 MB line costs 16 KiB of decoding),
 * and the whole body as JSON, XML or a form when it looks like one: `text/plain` is how a page
 * sends JSON cross-site without a preflight, and backends often parse it regardless of its type.
 */
function textReadings(
  bytes: Uint8Array,
  charset: string | undefined,
  truncated: boolean,
  notes: Notes,
): unknown[] {
  const max = BODY_VALUE_LIMITS.maxStringLength * 4;
  if (bytes.byteLength > max) notes.add("string-truncated");
  const text = capString(decodeText(bytes.subarray(0, max), charset), notes);
  const kind = sniffTextKind(text, true);
  if (kind === undefined) return [text];
  notes.add(`read-as:${kind}`);
  return [text, ...structured(kind, decodeText(bytes, charset), truncated, notes)];
}

/** The reading `text` shows by its first character, when it is not the declared kind. */
function alsoAs(text: string, declared: BodyKind, truncated: boolean, notes: Notes): unknown[] {
  const kind = sniffTextKind(text, declared === "json");
  if (kind === undefined || kind === declared) return [];
  notes.add(`read-as:${kind}`);
  return structured(kind, text, truncated, notes);
}

function structured(kind: SniffedKind, text: string, truncated: boolean, notes: Notes): unknown[] {
  switch (kind) {
    case "json": {
      const parsed = parseJsonText(text, truncated, notes);
      return parsed ? [parsed.value] : [];
    }
    case "xml": {
      const xml = parseXmlText(text, notes);
      return xml ? [xml] : [];
    }
    case "urlencoded":
      return [parseUrlEncoded(text, formLimits(notes))];
  }
}

/** Bytes decoded to decide what an undeclared body is. */
const SNIFF_PREFIX = 2048;

/**
 * A body whose type says nothing: read as the JSON, XML or form it looks like. Binary uploads
 * (known signatures, control bytes) and markup documents (SVG, HTML files) are left alone.
 */
function readSniffed(bytes: Uint8Array, truncated: boolean, notes: Notes): unknown[] {
  if (isKnownBinary(bytes) || (looksBinary(bytes) && !isWideText(bytes))) {
    notes.add("binary-body");
    return [];
  }
  const charset = detectCharset(bytes);
  const prefix = decodeText(bytes.subarray(0, SNIFF_PREFIX), charset);
  const kind = sniffTextKind(prefix, true);
  if (kind === undefined || (kind === "xml" && isMarkupDocument(prefix))) return [];
  notes.add(`sniffed:${kind}`);
  return structured(kind, decodeText(bytes, charset), truncated, notes);
}
