/**
 * JSON bodies, including bodies cut at the size limit. A cut document is repaired by closing what
 * is open at the cut (go-reference-processor.md §4.4): complete pairs are kept, a half-read key is
 * dropped, a half-read string value is kept, a key whose value is missing gets `null`.
 */
import { capValue, type Notes } from "./limits.ts";

/** Result of {@link parseJsonText}: the value, or undefined when nothing usable was found. */
export type JsonParse = { value: unknown } | undefined;

/**
 * Parses JSON text. Valid text goes through `JSON.parse` (native, iterative: 10,000-deep nesting is
 * fine). When it fails and `lenient` is set, the longest readable prefix is repaired and parsed.
 * The value is then cut to the WAF limits. Never throws.
 */
export function parseJsonText(text: string, lenient: boolean, notes: Notes): JsonParse {
  const strict = tryParse(text);
  if (strict) return { value: capValue(strict.value, notes) };
  if (!lenient) return undefined;
  const repaired = repairJson(text);
  const parsed = repaired === undefined ? undefined : tryParse(repaired);
  if (!parsed || parsed.value === null) return undefined;
  notes.add("json-repaired");
  return { value: capValue(parsed.value, notes) };
}

function tryParse(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/** Where the scanner is in the grammar, for the innermost open container (or the root). */
type Expect = "value" | "key" | "colon" | "comma-or-close";

/**
 * Returns `text` cut at the last point where it can be completed, plus what completes it, or
 * undefined when no value was started. Scanning stops at the end of input or at the first syntax
 * error, whichever comes first; anything after a syntax error is ignored.
 */
export function repairJson(text: string): string | undefined {
  const stack: string[] = [];
  let expect: Expect = "value";
  let i = skipSpace(text, 0);
  let cut = 0;
  let suffix = "";
  let started = false;
  const complete = (end: number): void => {
    expect = "comma-or-close";
    cut = end;
    suffix = "";
  };
  while (i < text.length) {
    const c = text.charAt(i);
    if (expect === "value" || expect === "key") {
      if (c === "{" || c === "[") {
        if (expect === "key") break;
        stack.push(c === "{" ? "}" : "]");
        started = true;
        expect = c === "{" ? "key" : "value";
        cut = i + 1;
        suffix = "";
        i = skipSpace(text, i + 1);
        const close = text.charAt(i);
        if (close === stack.at(-1)) {
          stack.pop();
          complete(i + 1);
          i = skipSpace(text, i + 1);
        }
        continue;
      }
      if (c === '"') {
        const end = stringEnd(text, i);
        if (expect === "key") {
          if (end === -1) break;
          expect = "colon";
          suffix = ":null";
          cut = end;
          i = skipSpace(text, end);
          continue;
        }
        if (end === -1) {
          cut = text.length - danglingEscape(text);
          suffix = '"';
          started = true;
          break;
        }
        started = true;
        complete(end);
        i = skipSpace(text, end);
        continue;
      }
      if (expect === "key") break;
      const end = scalarEnd(text, i);
      if (end === i) break;
      started = true;
      complete(end);
      i = skipSpace(text, end);
      continue;
    }
    if (expect === "colon") {
      if (c !== ":") break;
      expect = "value";
      suffix = "null";
      cut = i + 1;
      i = skipSpace(text, i + 1);
      continue;
    }
    // expect === "comma-or-close"
    if (stack.length === 0) break;
    if (c === stack.at(-1)) {
      stack.pop();
      complete(i + 1);
      i = skipSpace(text, i + 1);
      continue;
    }
    if (c !== ",") break;
    expect = stack.at(-1) === "}" ? "key" : "value";
    i = skipSpace(text, i + 1);
  }
  if (!started) return undefined;
  return text.slice(0, cut) + suffix + stack.reverse().join("");
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && " \t\n\r".includes(text.charAt(i))) i++;
  return i;
}

/** Index just past the closing quote of the string starting at `start`, or -1 if unterminated. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  return -1;
}

/** Length of an incomplete escape (`\` or `\u12`) at the very end of a cut string. */
function danglingEscape(text: string): number {
  const tail = /\\u[0-9a-fA-F]{0,3}$|\\$/.exec(text.slice(-6));
  if (!tail) return 0;
  // An even run of backslashes before the match means the backslash itself is escaped.
  let run = 0;
  const at = text.length - tail[0].length;
  while (text.charAt(at - 1 - run) === "\\") run++;
  return run % 2 === 0 ? tail[0].length : 0;
}

const SCALAR = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

/** End of a complete number or literal at `start`; `start` when there is none. */
function scalarEnd(text: string, start: number): number {
  SCALAR.lastIndex = start;
  const match = SCALAR.exec(text);
  return match ? start + match[0].length : start;
}
