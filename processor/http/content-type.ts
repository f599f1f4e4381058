/** The decision of which bodies are inspected, and how each is read, from its Content-Type. */
import { type MediaType, paramValues, parseMediaTypes } from "./media-type.ts";

/** How a body is parsed; see {@link bodyKindFromContentType}. */
export type BodyKind = "json" | "urlencoded" | "multipart" | "xml" | "text";

/** One reading of a body: a declared kind with its parameters, or `sniff` (what the bytes are). */
export interface BodyPlan {
  kind: BodyKind | "sniff";
  charset?: string;
  boundary?: string;
}

/** Readings of one body at most: repeated types, boundaries and charsets multiply. */
const MAX_PLANS = 4;

/**
 * Which parser a body needs, or undefined when it is not parsed as declared (images,
 * octet-stream, a missing or malformed type). With several media types (repeated header lines),
 * the first one with a kind.
 * - `json`: any media type ending in `json`, exactly the Go processor's gate
 *   (docs/go-compatibility.md#bodies):
 *   `application/json`, `text/json`, `*\/*+json`, `application/x-ndjson`.
 * - `multipart`: `multipart/form-data`, `multipart/mixed`, `multipart/related`.
 * - `xml`: `text/xml`, `application/xml`, `*\/*+xml`.
 * - `text`: `text/plain` only. Other `text/*` types (HTML, CSS, CSV, JavaScript) are mostly
 *   response pages and assets: feeding them to the WAF costs time on every page and their markup
 *   looks like the attacks request rules search for.
 */
export function bodyKindFromContentType(contentType: string | undefined): BodyKind | undefined {
  if (contentType === undefined) return undefined;
  for (const media of parseMediaTypes(contentType)) {
    const kind = kindOf(media.essence);
    if (kind) return kind;
  }
  return undefined;
}

/** The kind of a lower-cased `type/subtype`; see {@link bodyKindFromContentType}. */
export function kindOf(essence: string): BodyKind | undefined {
  if (essence.endsWith("json")) return "json";
  if (essence === "application/x-www-form-urlencoded") return "urlencoded";
  if (MULTIPART.has(essence)) return "multipart";
  if (essence === "text/xml" || essence === "application/xml" || essence.endsWith("+xml")) {
    return "xml";
  }
  if (essence === "text/plain") return "text";
  return undefined;
}

/**
 * Multipart types read as forms: `form-data` (RFC 7578), and `mixed` and `related`, which APIs
 * use for a JSON part plus files (backends read their parts as fields).
 */
const MULTIPART = new Set(["multipart/form-data", "multipart/mixed", "multipart/related"]);

/** Media types that say nothing about the content. */
const GENERIC = new Set([
  "application/octet-stream",
  "binary/octet-stream",
  "application/binary",
  "application/unknown",
  "*/*",
]);

/**
 * How a body is inspected: `parse` as its declared kind; `sniff` for a body whose type says
 * nothing (absent, malformed, `application/octet-stream`), which backends that ignore the type
 * may still read as JSON or a form; undefined for any other type (images, archives, HTML...).
 */
export function bodyInspection(contentType: string | undefined): "parse" | "sniff" | undefined {
  if (contentType === undefined || contentType.trim() === "") return "sniff";
  return inspectionOf(parseMediaTypes(contentType));
}

function inspectionOf(medias: MediaType[]): "parse" | "sniff" | undefined {
  if (medias.some((media) => kindOf(media.essence) !== undefined)) return "parse";
  return medias.every((media) => GENERIC.has(media.essence)) ? "sniff" : undefined;
}

/**
 * The readings of a body: one per declared media type with a kind, and per value of a repeated
 * `boundary` or `charset` parameter (backends differ on which one wins), at most four; a single
 * `sniff` plan when the type says nothing (see {@link bodyInspection}); none when not inspected.
 */
export function bodyPlans(contentType: string | undefined): BodyPlan[] {
  const medias = contentType === undefined ? [] : parseMediaTypes(contentType);
  const inspection = contentType?.trim() ? inspectionOf(medias) : "sniff";
  if (inspection !== "parse") return inspection === "sniff" ? [{ kind: "sniff" }] : [];
  if (medias.length === 1) return plansOf(medias[0] as MediaType).slice(0, MAX_PLANS);
  const plans: BodyPlan[] = [];
  for (const media of medias) {
    for (const plan of plansOf(media)) {
      const seen = plans.some((p) => p.kind === plan.kind && samePlan(p, plan));
      if (!seen && plans.length < MAX_PLANS) plans.push(plan);
    }
  }
  return plans;
}

function plansOf(media: MediaType): BodyPlan[] {
  const kind = kindOf(media.essence);
  if (kind === undefined) return [];
  if (kind === "multipart") {
    const boundaries = paramValues(media, "boundary").filter((b) => b !== "");
    // Without a boundary there is nothing to split on; body.ts reports multipart-no-boundary.
    return boundaries.length === 0
      ? [{ kind }]
      : boundaries.map((boundary) => ({ kind, boundary }));
  }
  const charsets = paramValues(media, "charset");
  return charsets.length === 0 ? [{ kind }] : charsets.map((charset) => ({ kind, charset }));
}

function samePlan(a: BodyPlan, b: BodyPlan): boolean {
  return a.charset?.toLowerCase() === b.charset?.toLowerCase() && a.boundary === b.boundary;
}
