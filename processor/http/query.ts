/**
 * `application/x-www-form-urlencoded` parsing, shared by the query string and form bodies. It
 * follows the WHATWG URL standard (what browsers send): pairs split on `&` only, `+` is a space,
 * `%XX` escapes decode to UTF-8 bytes, and a malformed escape stays as written. `;` is an ordinary
 * character of the primary reading, as in browsers (the Go reference drops pairs that contain one,
 * which hides them from the WAF's query address).
 */
import { BODY_VALUE_LIMITS, capString, type Notes, setOwn } from "./limits.ts";
import { percentBytes, percentDecodeIn, percentVariants } from "./percent.ts";

/** Caps applied while parsing a form body; the query string is parsed without them. */
export interface UrlEncodedLimits {
  /** Distinct keys kept; later new keys are dropped. */
  maxKeys: number;
  /** Values kept per key; later values are dropped. */
  maxValuesPerKey: number;
  /** Notes collect `container-truncated` / `string-truncated`. */
  notes: Notes;
}

/**
 * Parses a raw query string (the part after `?`; a leading `?` is ignored) into name → values in
 * arrival order; see {@link parseUrlEncoded} for the extra readings. Never throws.
 *
 * @example parseQuery("x=1&x=2&y") // { x: ["1", "2"], y: [""] }
 */
export function parseQuery(rawQuery: string): Record<string, string[]> {
  return parseUrlEncoded(rawQuery.startsWith("?") ? rawQuery.slice(1) : rawQuery);
}

/**
 * Parses urlencoded pairs; with `limits`, keys, values and strings are capped for the WAF. Where
 * backends read a pair differently from browsers, every reading is kept as another value of the
 * key, so repeated keys, first-wins and last-wins backends are all covered:
 * - a pair holding `;` is also split there (Python before 3.9.2, Tomcat and Rails have split query
 *   strings on `;`): `a=1;b=2` also gives `a=1` and `b=2`;
 * - a value with `%` also gets its double-decoded, `%uXXXX` and overlong UTF-8 readings
 *   (percent.ts).
 * `charset` is a form's declared charset: percent-encoded bytes are decoded in it.
 */
export function parseUrlEncoded(
  raw: string,
  limits?: UrlEncodedLimits,
  charset?: string,
): Record<string, string[]> {
  const state: PairState = {
    out: {},
    keys: 0,
    limits,
    charset: utf8(charset) ? undefined : charset,
  };
  let start = 0;
  while (start <= raw.length) {
    let end = raw.indexOf("&", start);
    if (end === -1) end = raw.length;
    if (end > start) {
      const pair = raw.slice(start, end);
      addPair(state, pair);
      if (pair.includes(";")) addSemicolonPairs(state, pair);
    }
    start = end + 1;
  }
  return state.out;
}

interface PairState {
  readonly out: Record<string, string[]>;
  keys: number;
  readonly limits: UrlEncodedLimits | undefined;
  readonly charset: string | undefined;
}

function addPair(state: PairState, pair: string): void {
  const eq = pair.indexOf("=");
  const key = formDecode(eq === -1 ? pair : pair.slice(0, eq), state.charset);
  const existing = Object.hasOwn(state.out, key) ? state.out[key] : undefined;
  // Past the limits, a pair costs its key's decoding only.
  if (!fits(state, existing)) return;
  const rawValue = eq === -1 ? "" : pair.slice(eq + 1);
  const value = formDecode(rawValue, state.charset);
  push(state, key, existing, value);
  if (rawValue.includes("%")) addVariants(state, key, rawValue, value);
}

/** The other readings of a value with escapes (percent.ts), as more values of its key. */
function addVariants(state: PairState, key: string, rawValue: string, value: string): void {
  // Browsers percent-encode UTF-8 whatever the page's charset: a declared charset is one
  // reading of the escapes, UTF-8 another.
  const utf8Value = state.charset === undefined ? value : formDecode(rawValue);
  if (utf8Value !== value) addValue(state, key, utf8Value);
  for (const variant of percentVariants(rawValue, utf8Value)) {
    if (variant !== value) addValue(state, key, variant);
  }
}

/** Python before 3.9.2, Tomcat and Rails have split pairs on `;` too. */
function addSemicolonPairs(state: PairState, pair: string): void {
  for (const part of pair.split(";")) if (part !== "") addPair(state, part);
}

/** Whether one more value fits the limits, `existing` being the key's values (noted if not). */
function fits(state: PairState, existing: string[] | undefined): boolean {
  const { limits } = state;
  if (!limits || admit(existing, state.keys, limits)) return true;
  limits.notes.add("container-truncated");
  return false;
}

/** Appends `value` to `key` within the limits. */
function addValue(state: PairState, key: string, value: string): void {
  const existing = Object.hasOwn(state.out, key) ? state.out[key] : undefined;
  if (fits(state, existing)) push(state, key, existing, value);
}

function push(state: PairState, key: string, existing: string[] | undefined, value: string): void {
  const kept = state.limits ? capString(value, state.limits.notes) : value;
  if (existing) existing.push(kept);
  else {
    state.keys++;
    setOwn(state.out, key, [kept]);
  }
}

function admit(existing: string[] | undefined, keys: number, limits: UrlEncodedLimits): boolean {
  return existing ? existing.length < limits.maxValuesPerKey : keys < limits.maxKeys;
}

/** The default caps for form bodies, from {@link BODY_VALUE_LIMITS}. */
export function formLimits(notes: Notes): UrlEncodedLimits {
  const max = BODY_VALUE_LIMITS.maxContainerSize;
  return { maxKeys: max, maxValuesPerKey: max, notes };
}

function utf8(charset: string | undefined): boolean {
  return charset === undefined || /^utf-?8$/i.test(charset);
}

/**
 * Decodes one form component: `+` → space, then percent-decoding that never throws (UTF-8, or
 * the form's declared `charset`).
 */
export function formDecode(component: string, charset?: string): string {
  const spaced = component.includes("+") ? component.replaceAll("+", " ") : component;
  if (!spaced.includes("%")) return spaced;
  if (charset !== undefined && !utf8(charset)) return percentDecodeIn(spaced, charset);
  try {
    return decodeURIComponent(spaced);
  } catch {
    return UTF8.decode(percentBytes(spaced));
  }
}

const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });
