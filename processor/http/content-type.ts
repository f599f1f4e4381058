/** Content-Type parsing and the decision of which bodies are inspectable. */
import { TextDecoder } from "node:util";

/** How a body is parsed; see {@link bodyKindFromContentType}. */
export type BodyKind = "json" | "urlencoded" | "multipart" | "xml" | "text";

/** A parsed media type: lower-cased `type/subtype` and its parameters (names lower-cased). */
export interface MediaType {
  essence: string;
  params: Map<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** Parses `type/subtype; name=value; name="quoted"`. Returns undefined when malformed. */
export function parseMediaType(contentType: string): MediaType | undefined {
  const [head = "", ...rest] = contentType.split(";");
  const essence = head.trim().toLowerCase();
  const [type, subtype, extra] = essence.split("/");
  if (!type || !subtype || extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype)) {
    return undefined;
  }
  const params = new Map<string, string>();
  for (const part of rest) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(.)/g, "$1");
    }
    if (!params.has(name)) params.set(name, value);
  }
  return { essence, params };
}

/**
 * Which parser a body needs, or undefined when it is not inspected (images, octet-stream, a
 * missing or malformed type).
 * - `json`: any media type ending in `json`, exactly the Go reference's gate (§4.3):
 *   `application/json`, `text/json`, `*\/*+json`, `application/x-ndjson`.
 * - `xml`: `text/xml`, `application/xml`, `*\/*+xml`.
 * - `text`: `text/plain` only. Other `text/*` types (HTML, CSS, CSV, JavaScript) are mostly
 *   response pages and assets: feeding them to the WAF costs time on every page and their markup
 *   looks like the attacks request rules search for.
 */
export function bodyKindFromContentType(contentType: string | undefined): BodyKind | undefined {
  const media = contentType === undefined ? undefined : parseMediaType(contentType);
  if (!media) return undefined;
  const { essence } = media;
  if (essence.endsWith("json")) return "json";
  if (essence === "application/x-www-form-urlencoded") return "urlencoded";
  if (essence === "multipart/form-data") return "multipart";
  if (essence === "text/xml" || essence === "application/xml" || essence.endsWith("+xml")) {
    return "xml";
  }
  if (essence === "text/plain") return "text";
  return undefined;
}

/**
 * Decodes body bytes as text in the declared charset (UTF-8 by default or when the charset is
 * unknown). Invalid sequences become U+FFFD; a UTF-8 BOM is dropped.
 */
export function decodeText(bytes: Uint8Array, charset: string | undefined): string {
  return decoderFor(charset).decode(bytes);
}

const UTF8 = new TextDecoder("utf-8");

function decoderFor(charset: string | undefined): TextDecoder {
  if (charset === undefined || /^utf-?8$/i.test(charset)) return UTF8;
  try {
    return new TextDecoder(charset);
  } catch {
    return UTF8;
  }
}
