/**
 * JSON bodies. A clean document is parsed once, natively; the tolerant reader (json-lenient.ts)
 * runs only when `JSON.parse` fails or when the document may repeat a key, which `JSON.parse`
 * would hide (it keeps the last value, some backends keep the first).
 */
import { combineReadings } from "./combine.ts";
import { readJsonLenient } from "./json-lenient.ts";
import { type CapStats, capValue, type Notes } from "./limits.ts";

/**
 * Result of {@link parseJsonText}: the value, or undefined when nothing usable was found.
 * `malformed` says the text was not clean JSON, so its raw text is worth inspecting too.
 */
export type JsonParse = { value: unknown; malformed: boolean } | undefined;

/**
 * Parses JSON text into a value within the WAF limits. Valid text without repeated keys goes
 * through `JSON.parse` (native, iterative: 10,000-deep nesting is fine). Otherwise every reading
 * is kept: every value of a repeated key, every document of a multi-document text (or of valid
 * JSON followed by more), and leftover text as strings; several values are combined (see
 * combineReadings: maps merged, anything else under the empty key).
 * `cut` says the text was cut at the body limit, so a document left open there is not malformed.
 * Notes: `json-duplicate-keys`, `json-multiple-values`, `json-repaired`, `json-malformed`,
 * and the limit notes. Never throws.
 */
export function parseJsonText(text: string, cut: boolean, notes: Notes): JsonParse {
  const strict = tryParse(text);
  if (strict) {
    const stats: CapStats = { keys: 0, complete: true };
    const value = capValue(strict.value, notes, 1, stats);
    if (!mayRepeatKeys(text, strict.value, stats)) return { value, malformed: false };
  }
  const read = readJsonLenient(text, notes);
  if (read.values.length === 0) return undefined;
  if (read.duplicates) notes.add("json-duplicate-keys");
  if (!strict) notes.add(cut && !read.malformed ? "json-repaired" : "json-malformed");
  const all = [...read.values, ...read.leftovers];
  if (all.length > 1) notes.add("json-multiple-values");
  return { value: combineReadings(all, notes), malformed: read.malformed };
}

function tryParse(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/**
 * Whether valid JSON may repeat a key. Every key ends with a quote followed (after whitespace) by
 * a colon; colons inside strings can only add to that count. So when the count equals the number
 * of keys `JSON.parse` kept, no key was repeated. The keys are counted while the value is cut
 * to the WAF limits; a cut value is counted again in full.
 */
function mayRepeatKeys(text: string, value: unknown, stats: CapStats): boolean {
  const marks = keyMarks(text);
  if (marks === 0) return false;
  return marks !== (stats.complete ? stats.keys : countKeys(value));
}

function keyMarks(text: string): number {
  let marks = 0;
  // One native indexOf per colon and char codes backwards: about 1 µs per KiB of JSON.
  for (let at = text.indexOf(":"); at !== -1; at = text.indexOf(":", at + 1)) {
    let before = at - 1;
    let c = text.charCodeAt(before);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(--before);
    if (c === 0x22) marks++;
  }
  return marks;
}

/** Own keys of every object in `value`, walked with an explicit stack (any depth). */
function countKeys(value: unknown): number {
  let keys = 0;
  const stack: object[] = typeof value === "object" && value !== null ? [value] : [];
  const visit = (item: unknown) => {
    if (typeof item === "object" && item !== null) stack.push(item);
  };
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (Array.isArray(item)) {
      for (const element of item) visit(element);
      continue;
    }
    for (const key in item) {
      keys++;
      visit((item as Record<string, unknown>)[key]);
    }
  }
  return keys;
}
