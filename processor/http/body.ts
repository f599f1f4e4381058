/**
 * Body parsing into the plain structure the WAF expects. Where the headers allow more than one
 * reading of the bytes (repeated or generic content types, codings the bytes disagree with,
 * charsets, repeated parameters), every reading is inspected, combined into one value (see
 * combineReadings).
 */
import { isDeepStrictEqual } from "node:util";
import { err, ok, type Result } from "../result.ts";
import { combineReadings } from "./combine.ts";
import { codingsOf, decodeContent, needsDecoding } from "./content-encoding.ts";
import { type BodyPlan, bodyPlans } from "./content-type.ts";
import type { Notes } from "./limits.ts";
import { readPlan } from "./readings.ts";

/** Why a body was not analysed. */
export type BodySkipReason =
  /** No bytes (after decoding). */
  | "empty-body"
  /**
   * The content type is not inspectable (see bodyInspection), or a body whose type says nothing
   * is binary or sniffs as nothing the WAF reads.
   */
  | "unsupported-content-type"
  /** Binary bytes under an unknown content coding, or more than 3 layers. */
  | "unsupported-encoding"
  /** The compressed data was corrupt before any output, and the bytes are not text. */
  | "decompression-failed"
  /** A multipart body without a `boundary` parameter. */
  | "multipart-no-boundary"
  /** The body parsed to nothing inspectable (an XML body of only comments). */
  | "no-content";

/** Options of {@link parseBody}. */
export interface ParseBodyOptions {
  /** The `content-type` header value (repeated lines joined with commas). */
  contentType?: string;
  /** The `content-encoding` header value (repeated lines joined with commas). */
  contentEncoding?: string;
  /** The body was cut at the limit (from the body buffer): parse leniently. */
  truncated: boolean;
  /** Body limit in bytes; also bounds the inflated size of an encoded body. */
  limitBytes: number;
}

/**
 * A parsed body: `content` is the value for the WAF. `notes` says what was cut, repaired, guessed
 * or read twice (`body-truncated`, `json-repaired`, `json-duplicate-keys`, `json-multiple-values`,
 * `json-malformed`, `json-malformed-as-text`, `depth-truncated`, `container-truncated`,
 * `string-truncated`, `multipart-unterminated`, `multipart-nested`, `xml-malformed`, `decoded`,
 * `coding-ignored`, `coding-sniffed:<coding>`, `charset-detected:<charset>`, `sniffed:<kind>`,
 * `read-as:<kind>`...). `filenames` is set for multipart bodies only.
 */
export interface ParsedBody {
  readonly content: unknown;
  readonly notes: string[];
  readonly filenames?: string[];
}

/**
 * Parses a body for the WAF. Content codings are undone first, bounded by `limitBytes`, which is
 * why this is asynchronous (see decodeContent); a clean body with no coding is read at once.
 * `content` by kind:
 * - json: the parsed value (cut to the WAF limits); malformed text is read leniently and passed
 *   as text too, so the WAF still sees it;
 * - urlencoded: `Record<string, string[]>`, decoded like the query string;
 * - multipart: `Record<string, unknown[]>` of fields, with file names in `filenames`;
 * - xml: an XmlElement tree (`{ attributes?, children? }`);
 * - text: the string (and the JSON, XML or form it holds, if it looks like one);
 * - no type or `application/octet-stream`: the JSON, XML or form the bytes sniff as.
 * Several readings are combined into one value (combine.ts). Never throws and never rejects.
 */
export async function parseBody(
  bytes: Uint8Array,
  options: ParseBodyOptions,
): Promise<Result<ParsedBody, BodySkipReason>> {
  const plans = bodyPlans(options.contentType);
  if (plans.length === 0) return err("unsupported-content-type");
  if (!needsDecoding(bytes, options.contentEncoding)) {
    return readBody(bytes, plans, options.truncated, []);
  }
  const decoded = await decodeContent(bytes, options.contentEncoding, options.limitBytes);
  if (!decoded.ok) return decoded;
  const declared = codingsOf(options.contentEncoding).length > 0;
  const { bytes: plain, truncated, notes: decodeNotes } = decoded.value;
  const ignored = decodeNotes.includes("coding-ignored");
  const notes = declared && !ignored ? ["decoded", ...decodeNotes] : decodeNotes;
  return readBody(plain, plans, options.truncated || truncated, notes);
}

function readBody(
  bytes: Uint8Array,
  plans: BodyPlan[],
  truncated: boolean,
  first: string[],
): Result<ParsedBody, BodySkipReason> {
  if (bytes.byteLength === 0) return err("empty-body");
  const notes: Notes = new Set([...first, ...(truncated ? ["body-truncated"] : [])]);
  const values: unknown[] = [];
  let filenames: string[] | undefined;
  for (const plan of plans) {
    const reading = readPlan(bytes, plan, truncated, notes);
    for (const value of reading.values) addReading(values, value);
    if (reading.filenames) filenames = union(filenames ?? [], reading.filenames);
  }
  if (values.length === 0) return err(skipReason(plans));
  const content = combineReadings(values, notes);
  return ok({ content, notes: [...notes], ...(filenames ? { filenames } : {}) });
}

/** Adds a reading unless an equal one is there (two charsets may read ASCII the same). */
function addReading(values: unknown[], value: unknown): void {
  if (values.length > 0 && values.some((v) => isDeepStrictEqual(v, value))) return;
  values.push(value);
}

function union(a: string[], b: string[]): string[] {
  return [...a, ...b.filter((item) => !a.includes(item))];
}

function skipReason(plans: BodyPlan[]): BodySkipReason {
  if (plans.every((plan) => plan.kind === "multipart")) return "multipart-no-boundary";
  return plans.every((plan) => plan.kind === "sniff") ? "unsupported-content-type" : "no-content";
}
