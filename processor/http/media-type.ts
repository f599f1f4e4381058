/**
 * Media types (RFC 9110 §8.3.1) read the way servers read them: quoted parameter values may hold
 * `;`, `,` and escaped quotes, names are case-insensitive, whitespace around `=` is tolerated, and
 * RFC 2231 continuations (`boundary*0=…; boundary*1=…`) are joined, as Go's `mime` package does.
 * A reader that splits on every `;` would take a different boundary than the backend.
 */

/** A header value of the form `head; name=value; ...` (Content-Type, Content-Disposition). */
export interface ParameterizedValue {
  /** What comes before the first `;`, trimmed and lower-cased. */
  head: string;
  /** Parameters by lower-cased name; the first occurrence of a name. */
  params: Map<string, string>;
  /** Later values of repeated parameter names, in order (backends differ on which one wins). */
  repeated: Array<[string, string]>;
}

/** A parsed media type; `head` is the lower-cased `type/subtype`. */
export interface MediaType extends ParameterizedValue {
  /** Lower-cased `type/subtype` (same as `head`). */
  essence: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** Parses `head; name=value; name = "quoted; \" value"`; never fails. */
export function parseParameterized(value: string): ParameterizedValue {
  const semi = indexOutsideQuotes(value, ";", 0);
  const head = value.slice(0, semi).trim().toLowerCase();
  return { head, ...joinParams(rawParams(value.slice(semi + 1))) };
}

/** Parses `type/subtype; name=value; ...`. Undefined when the type is malformed. */
export function parseMediaType(value: string): MediaType | undefined {
  const parsed = parseParameterized(value);
  const [type, subtype, extra] = parsed.head.split("/");
  if (!type || !subtype || extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype)) {
    return undefined;
  }
  return { ...parsed, essence: parsed.head };
}

/**
 * Every media type a Content-Type value can stand for. Repeated header lines arrive joined with
 * commas (Envoy joins inline headers such as Content-Type), so the value is split at commas
 * outside quotes; the whole value is read as one media type too, for servers that do not split.
 * Malformed entries are dropped; at most `max` are returned.
 */
export function parseMediaTypes(value: string, max = 4): MediaType[] {
  const whole = parseMediaType(value);
  const out = whole ? [whole] : [];
  if (!value.includes(",")) return out;
  for (const part of splitOutsideQuotes(value, ",")) {
    const media = parseMediaType(part);
    if (media && out.length < max && !out.some((m) => sameMedia(m, media))) out.push(media);
  }
  return out;
}

function sameMedia(a: MediaType, b: MediaType): boolean {
  if (a.essence !== b.essence || a.params.size !== b.params.size) return false;
  for (const [name, value] of a.params) if (b.params.get(name) !== value) return false;
  return true;
}

/** Every value of parameter `name`: the first, then repeated ones, without duplicates. */
export function paramValues(media: ParameterizedValue, name: string): string[] {
  const first = media.params.get(name);
  const out = first === undefined ? [] : [first];
  for (const [key, value] of media.repeated) {
    if (key === name && !out.includes(value)) out.push(value);
  }
  return out;
}

/** Splits `text` at `separator` characters that are not inside a quoted string. */
export function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (;;) {
    const at = indexOutsideQuotes(text, separator, start);
    parts.push(text.slice(start, at));
    if (at >= text.length) return parts;
    start = at + 1;
  }
}

/** Index of the first `char` at or after `from` outside a quoted string; `text.length` if none. */
function indexOutsideQuotes(text: string, char: string, from: number): number {
  const at = text.indexOf(char, from);
  const quote = text.indexOf('"', from);
  // The usual value has no quote before the separator: native search only.
  if (quote === -1 || (at !== -1 && at < quote)) return at === -1 ? text.length : at;
  let quoted = false;
  for (let i = quote; i < text.length; i++) {
    const c = text.charAt(i);
    if (quoted && c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === char) return i;
  }
  return text.length;
}

/** `name=value` pairs, names lower-cased, quoted values unescaped. */
function rawParams(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of splitOutsideQuotes(text, ";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    if (name !== "") out.push([name, unquote(part.slice(eq + 1).trim())]);
  }
  return out;
}

/** A quoted-string loses its quotes and backslash escapes; an unterminated one its open quote. */
export function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  const end = value.length >= 2 && value.endsWith('"') ? -1 : undefined;
  return value.slice(1, end).replace(/\\(.)/gs, "$1");
}

const SECTION = /^(.+?)\*(\d{1,3})(\*?)$/;

/**
 * Folds raw parameters into the first-wins map: RFC 2231 sections `name*0`, `name*1*` are joined
 * in order (percent-decoded where marked `*`), `name*` is an extended value (`utf-8''a%20b`).
 */
function joinParams(raw: Array<[string, string]>): Omit<ParameterizedValue, "head"> {
  const params = new Map<string, string>();
  const repeated: Array<[string, string]> = [];
  const add = (name: string, value: string) => {
    if (params.has(name)) repeated.push([name, value]);
    else params.set(name, value);
  };
  let sections: Map<string, string[]> | undefined;
  for (const [name, value] of raw) {
    const section = name.includes("*") ? SECTION.exec(name) : null;
    if (section) {
      const [, base = "", index = "0", extended] = section;
      sections ??= new Map();
      const list = sections.get(base) ?? [];
      list[Number(index)] = extended ? extendedValue(value, index === "0") : value;
      sections.set(base, list);
    } else if (name.endsWith("*")) add(name.slice(0, -1), extendedValue(value, true));
    else add(name, value);
  }
  for (const [name, list] of sections ?? []) add(name, list.join(""));
  return { params, repeated };
}

/** RFC 2231/8187 `charset'lang'percent-encoded`; only the first section carries the prefix. */
export function extendedValue(value: string, withPrefix: boolean): string {
  const encoded = withPrefix ? value.replace(/^[^']*'[^']*'/, "") : value;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}
