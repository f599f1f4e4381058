/**
 * A tolerant JSON reader for text that `JSON.parse` rejects or reads differently from some
 * backends. Backends disagree on repeated keys (first or last wins), on what follows a document
 * (ignored, a second document, an error) and on lenient syntax (comments, single quotes, bare
 * words: Gson, JSON5, Jackson options). Where they disagree the WAF must see every reading, so this
 * reader keeps every value of a repeated key, reads every document of the text, skips stray
 * closing brackets, and keeps unreadable text as strings. Bounded like {@link capValue}: depth,
 * container size and string length are cut while reading, and the work is linear in the text.
 */
import {
  addRepeated,
  BODY_VALUE_LIMITS,
  capString,
  createRepeatedMap,
  type Notes,
} from "./limits.ts";

/** What {@link readJsonLenient} found. */
export interface LenientJson {
  /** Top-level values in order: one per document. */
  values: unknown[];
  /** Top-level text that is not JSON (capped strings), in order. */
  leftovers: string[];
  /** An object repeated a key: its values were kept together in an array. */
  duplicates: boolean;
  /** Something other than the end of the text broke the JSON grammar. */
  malformed: boolean;
}

interface Reader {
  readonly text: string;
  pos: number;
  readonly notes: Notes;
  duplicates: boolean;
  malformed: boolean;
}

/** Marks "no value here" (the end of the text, or a container cut for depth). */
const NOTHING = Symbol("nothing");
type Read = unknown | typeof NOTHING;

const { maxDepth, maxContainerSize, maxStringLength } = BODY_VALUE_LIMITS;

/**
 * Reads every JSON value of `text`. The end of the text closes what is open (a body cut at the
 * limit): complete pairs are kept, a half-read key is dropped, a key without a value gets `null`,
 * a half-read string is kept, a half-read literal is dropped. Never throws.
 */
export function readJsonLenient(text: string, notes: Notes): LenientJson {
  const r: Reader = { text, pos: 0, notes, duplicates: false, malformed: false };
  const values: unknown[] = [];
  const leftovers: string[] = [];
  for (skipSpace(r); r.pos < text.length; skipSpace(r)) {
    if (values.length + leftovers.length === maxContainerSize) {
      notes.add("container-truncated");
      break;
    }
    const c = text.charAt(r.pos);
    if (c === "}" || c === "]" || c === ",") {
      r.pos++;
      if (c !== ",") r.malformed = true;
      continue;
    }
    const from = r.pos;
    const value = STARTS_VALUE.test(c) ? readValue(r, 1) : readBareWord(r, ROOT_STOP);
    if (r.pos === from) r.pos++;
    if (value === NOTHING) continue;
    if (typeof value === "string" && !STARTS_VALUE.test(c)) {
      r.malformed = true;
      if (value !== "") leftovers.push(value);
    } else values.push(value);
  }
  return { values, leftovers, duplicates: r.duplicates, malformed: r.malformed };
}

/**
 * What a top-level JSON value starts with; anything else at the top level is a leftover. Not a
 * single quote: an XSSI prefix such as `)]}'` must not open a string that swallows the document.
 */
const STARTS_VALUE = /[{["\d-]/;

/** Where a top-level leftover ends: where the next document (or string) may start. */
const ROOT_STOP = /[^{[\]}"]*/y;
/** Where a bare value ends inside a container. */
const VALUE_STOP = /[^,}\]\n\r]*/y;
/** Where a bare key ends. */
const KEY_STOP = /[^:,{}[\]\s]*/y;

function readValue(r: Reader, depth: number): Read {
  skipSpace(r);
  const c = r.text.charAt(r.pos);
  if (c === "{" || c === "[") {
    if (depth > maxDepth) {
      r.notes.add("depth-truncated");
      skipContainer(r);
      return NOTHING;
    }
    return c === "{" ? readObject(r, depth) : readArray(r, depth);
  }
  if (c === '"' || c === "'") return readString(r, c);
  if (c === "" || c === "}" || c === "]" || c === ",") return NOTHING;
  return readScalar(r);
}

function readArray(r: Reader, depth: number): unknown[] {
  const out: unknown[] = [];
  r.pos++;
  while (r.pos < r.text.length) {
    const step = memberStart(r, "]");
    if (step === "end") return out;
    if (step === "next") continue;
    if (out.length === maxContainerSize) {
      skipRest(r);
      return out;
    }
    const from = r.pos;
    const item = readValue(r, depth + 1);
    if (item !== NOTHING) out.push(item);
    afterMember(r, from);
  }
  return out;
}

/**
 * Before a member: consumes a closing bracket (`end`; a mismatched one closes too, as lenient
 * parsers do) or an extra comma (`next`); `member` when a member starts here.
 */
function memberStart(r: Reader, close: string): "end" | "next" | "member" {
  skipSpace(r);
  const c = r.text.charAt(r.pos);
  if (c === "}" || c === "]") {
    if (c !== close) r.malformed = true;
    r.pos++;
    return "end";
  }
  if (c !== ",") return "member";
  r.pos++;
  return "next";
}

function readObject(r: Reader, depth: number): Record<string, unknown> {
  const map = createRepeatedMap();
  r.pos++;
  while (r.pos < r.text.length) {
    const step = memberStart(r, "}");
    if (step === "end") return map.out;
    if (step === "next") continue;
    if (map.keys === maxContainerSize) {
      skipRest(r);
      return map.out;
    }
    const from = r.pos;
    const key = readKey(r);
    if (key === undefined) return map.out; // a half-read key at the end of the text
    const value = readMemberValue(r, depth);
    // A repeated key keeps every value: first-wins and last-wins backends are both covered.
    if (value !== NOTHING && !addRepeated(map, key, value, r.notes)) r.duplicates = true;
    afterMember(r, from);
  }
  return map.out;
}

/** The value after a key: `null` when the text ends before it (a cut body). */
function readMemberValue(r: Reader, depth: number): Read {
  skipSpace(r);
  if (r.text.charAt(r.pos) === ":") r.pos++;
  else if (r.pos < r.text.length) r.malformed = true;
  skipSpace(r);
  if (r.pos >= r.text.length) return null;
  const value = readValue(r, depth + 1);
  return value === NOTHING && r.pos >= r.text.length ? null : value;
}

/** Each member must consume something, or a character the grammar cannot place is dropped. */
function afterMember(r: Reader, from: number): void {
  skipSpace(r);
  const c = r.text.charAt(r.pos);
  if (r.pos === from || (c !== "," && c !== "}" && c !== "]" && c !== "")) {
    r.malformed = true;
    if (r.pos === from) r.pos++;
  }
}

function readKey(r: Reader): string | undefined {
  const c = r.text.charAt(r.pos);
  if (c === '"' || c === "'") {
    if (stringEnd(r.text, r.pos, c) !== -1) return readString(r, c);
    r.pos = r.text.length;
    return undefined;
  }
  r.malformed = true;
  const key = readBareWord(r, KEY_STOP);
  return r.pos >= r.text.length ? undefined : key;
}

/**
 * Skips the rest of a container cut at its size limit, up to and including its closing bracket:
 * one native search per bracket or quote, nothing built.
 */
function skipRest(r: Reader): void {
  r.notes.add("container-truncated");
  skipContainer(r, 1);
}

const STRUCTURE = /[{}[\]"]/g;

/**
 * Skips a container from inside it at `depth` (0: at its opening bracket), iteratively: nesting
 * depth costs nothing here. Only double quotes delimit strings here: an apostrophe in a bare
 * word of the skipped part must not swallow what follows the container.
 */
function skipContainer(r: Reader, depth = 0): void {
  let level = depth;
  while (r.pos < r.text.length) {
    // Jump to the next bracket or quote natively; everything between them is skipped.
    STRUCTURE.lastIndex = r.pos;
    const c = STRUCTURE.exec(r.text)?.[0];
    if (c === undefined) {
      r.pos = r.text.length;
      return;
    }
    r.pos = STRUCTURE.lastIndex;
    if (c === '"') {
      const end = stringEnd(r.text, r.pos - 1);
      r.pos = end === -1 ? r.text.length : end;
    } else if (c === "{" || c === "[") level++;
    else if (--level === 0) return;
  }
}

/** A number or literal, ended by a delimiter (so `1x` or `nullify` are bare words). */
const SCALAR = /(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)(?=[\s,:}\]/]|$)/y;
const NUMBER_PREFIX = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERALS: Record<string, unknown> = { true: true, false: false, null: null };

/** A number, a literal, or a bare word (kept as a string, as lenient parsers read it). */
function readScalar(r: Reader): Read {
  SCALAR.lastIndex = r.pos;
  const token = SCALAR.exec(r.text)?.[0];
  if (token !== undefined) {
    r.pos += token.length;
    return scalarValue(token);
  }
  const start = r.pos;
  const word = readBareWord(r, VALUE_STOP);
  if (r.pos >= r.text.length) {
    // The end of a cut body: keep the complete part of a number, drop a half-read literal.
    NUMBER_PREFIX.lastIndex = start;
    const number = NUMBER_PREFIX.exec(r.text)?.[0];
    if (number !== undefined) return scalarValue(number);
    if (/^(?:t|tr|tru|f|fa|fal|fals|n|nu|nul)$/.test(word)) return NOTHING;
  }
  r.malformed = true;
  return word;
}

function scalarValue(token: string): unknown {
  if (Object.hasOwn(LITERALS, token)) return LITERALS[token];
  const value = Number(token);
  return Number.isFinite(value) ? value : token;
}

/** The run of text `run` (a sticky negated class) matches at the position, trimmed and capped. */
function readBareWord(r: Reader, run: RegExp): string {
  const start = r.pos;
  run.lastIndex = start;
  r.pos += run.exec(r.text)?.[0].length ?? 0;
  if (r.pos === start && r.pos < r.text.length) r.pos++;
  return capString(r.text.slice(start, r.pos).trim(), r.notes);
}

/** Reads a string token; an unterminated one runs to the end of the text (a cut body). */
function readString(r: Reader, quote: string): string {
  const start = r.pos + 1;
  const end = stringEnd(r.text, r.pos, quote);
  r.pos = end === -1 ? r.text.length : end;
  const body = r.text.slice(start, end === -1 ? undefined : end - 1);
  // Each escape is at most 6 characters: this slice always holds enough for the string limit.
  const head = body.length > maxStringLength * 6 ? body.slice(0, maxStringLength * 6) : body;
  if (head.length < body.length) r.notes.add("string-truncated");
  return capString(head.includes("\\") ? unescapeJson(head) : head, r.notes);
}

const ESCAPE = /\\u[0-9a-fA-F]{0,3}$|\\$|\\(?:u([0-9a-fA-F]{4})|([\s\S]))/g;
const SIMPLE: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** JSON escapes, plus `\'` and any `\x` as `x`; a dangling escape at the end is dropped. */
function unescapeJson(text: string): string {
  return text.replace(ESCAPE, (_, hex: string | undefined, char: string | undefined) => {
    if (hex !== undefined) return String.fromCharCode(Number.parseInt(hex, 16));
    if (char === undefined) return "";
    return Object.hasOwn(SIMPLE, char) ? (SIMPLE[char] as string) : char;
  });
}

/** Index just past the closing quote of the string at `start`, or -1 when unterminated. */
export function stringEnd(text: string, start: number, quote = '"'): number {
  let at = text.indexOf(quote, start + 1);
  while (at !== -1) {
    let slashes = 0;
    while (text.charCodeAt(at - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return at + 1;
    at = text.indexOf(quote, at + 1);
  }
  return -1;
}

/** Skips whitespace and comments (`//` to the end of the line, `/* … *\/`). */
function skipSpace(r: Reader): void {
  const { text } = r;
  for (;;) {
    let c = text.charCodeAt(r.pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++r.pos);
    if (text.charAt(r.pos) !== "/") return;
    const next = text.charAt(r.pos + 1);
    if (next !== "/" && next !== "*") return;
    const end = next === "/" ? text.indexOf("\n", r.pos) : text.indexOf("*/", r.pos + 2);
    r.pos = end === -1 ? text.length : end + (next === "/" ? 1 : 2);
  }
}
