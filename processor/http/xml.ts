/**
 * A small, bounded, lenient XML reader for WAF inspection. It never resolves entities or fetches
 * anything (no XXE): only the five predefined entities and character references are decoded, any
 * other `&name;` stays literal. Work is linear in the input; output is bounded by the WAF limits.
 */
import { BODY_VALUE_LIMITS, capString, type Notes, setOwn } from "./limits.ts";

/**
 * One element, in the shape dd-trace-java's `XmlDomUtils` gives libddwaf: attributes by name and
 * children in document order (elements, and trimmed non-empty text). Element names are dropped
 * as in dd-trace-java; they cannot carry injection characters. Empty keys are omitted.
 */
export interface XmlElement {
  attributes?: Record<string, string>;
  children?: unknown[];
}

/**
 * Element levels kept. Each level is two WAF containers (the element map and its children list),
 * so 10 levels fill libddwaf's depth of 20. Deeper content is flattened into the deepest kept
 * element as strings, so nesting cannot hide a payload.
 */
const MAX_ELEMENT_DEPTH = BODY_VALUE_LIMITS.maxDepth / 2;

/** Open elements tracked at most; deeper ones are read as content of the deepest tracked one. */
const MAX_OPEN = 256;

/** How many open elements a close tag is matched against (see matchingFrame). */
const CLOSE_SEARCH = 32;

interface Frame {
  name: string;
  node: XmlElement;
  /** Where this element's content goes: itself, or the deepest kept ancestor. */
  sink: XmlElement;
}

/**
 * Parses XML text into an {@link XmlElement}. With one root element the value is that element;
 * otherwise (several roots, stray text) it is a synthetic element holding them. A DOCTYPE is never
 * interpreted; its text is kept as the first child so the WAF sees what it declares. Returns
 * undefined when the text holds no element, text or doctype.
 */
export function parseXmlText(text: string, notes: Notes): XmlElement | undefined {
  const root: Frame = { name: "", node: {}, sink: {} };
  root.sink = root.node;
  const stack: Frame[] = [root];
  const state = { text, pos: 0, notes, stack, doctype: undefined as string | undefined };
  while (state.pos < text.length && step(state)) {
    // step() advances pos; it returns false once the rest of the input cannot be read.
  }
  if (stack.length > 1) notes.add("xml-unclosed");
  return finish(root.node, state.doctype);
}

interface State {
  text: string;
  pos: number;
  notes: Notes;
  stack: Frame[];
  doctype: string | undefined;
}

function step(s: State): boolean {
  const lt = s.text.indexOf("<", s.pos);
  addText(s, s.text.slice(s.pos, lt === -1 ? undefined : lt));
  if (lt === -1) return false;
  s.pos = lt;
  if (s.text.startsWith("<!--", lt)) return skipPast(s, "-->");
  if (s.text.startsWith("<![CDATA[", lt)) return cdata(s);
  if (s.text.startsWith("<!", lt)) return doctype(s);
  if (s.text.startsWith("<?", lt)) return skipPast(s, "?>");
  if (s.text.startsWith("</", lt)) return closeTag(s);
  if (/[A-Za-z_:]/.test(s.text.charAt(lt + 1))) return openTag(s);
  addText(s, "<");
  s.pos = lt + 1;
  return true;
}

function skipPast(s: State, end: string): boolean {
  const at = s.text.indexOf(end, s.pos);
  if (at === -1) return false;
  s.pos = at + end.length;
  return true;
}

function cdata(s: State): boolean {
  const start = s.pos + "<![CDATA[".length;
  const end = s.text.indexOf("]]>", start);
  addChild(s, capString(s.text.slice(start, end === -1 ? undefined : end).trim(), s.notes));
  s.pos = end === -1 ? s.text.length : end + 3;
  return end !== -1;
}

function doctype(s: State): boolean {
  const close = s.text.indexOf(">", s.pos);
  const open = s.text.indexOf("[", s.pos);
  // An internal subset ([...]) may contain '>' in its declarations; it ends at "]>".
  const end = open !== -1 && open < close ? s.text.indexOf("]", open) : close;
  const gt = end === -1 ? -1 : s.text.indexOf(">", end);
  const raw = s.text.slice(s.pos, gt === -1 ? undefined : gt + 1);
  s.doctype ??= capString(raw, s.notes);
  s.notes.add("xml-doctype-ignored");
  s.pos = gt === -1 ? s.text.length : gt + 1;
  return gt !== -1;
}

function closeTag(s: State): boolean {
  const gt = s.text.indexOf(">", s.pos);
  if (gt === -1) return false;
  const name = s.text.slice(s.pos + 2, gt).trim();
  s.pos = gt + 1;
  const at = matchingFrame(s.stack, name);
  if (at <= 0) s.notes.add("xml-malformed");
  else {
    if (at < s.stack.length - 1) s.notes.add("xml-malformed");
    s.stack.length = at;
  }
  return true;
}

/**
 * Index of the open element a close tag ends, searching only the innermost few: well-formed input
 * matches the innermost at once, and a flood of stray close tags must not cost the whole stack.
 */
function matchingFrame(stack: Frame[], name: string): number {
  for (let i = stack.length - 1; i > 0 && i >= stack.length - CLOSE_SEARCH; i--) {
    if (stack[i]?.name === name) return i;
  }
  return -1;
}

const NAME = /[^\s/>=]+/y;

function openTag(s: State): boolean {
  NAME.lastIndex = s.pos + 1;
  const name = NAME.exec(s.text)?.[0] ?? "";
  const attributes: Record<string, string> = {};
  const end = readAttributes(s, s.pos + 1 + name.length, attributes);
  if (end === -1) return false; // a tag cut by the end of input is dropped
  const selfClosing = s.text.charAt(end - 1) === "/";
  s.pos = end + 1;
  pushElement(s, name, attributes, selfClosing);
  return true;
}

/** Reads attributes up to the tag's `>`; returns its index, or -1 when the input ends first. */
function readAttributes(s: State, from: number, out: Record<string, string>): number {
  let i = from;
  let count = 0;
  while (i < s.text.length) {
    const c = s.text.charAt(i);
    if (c === ">") return i;
    if (c === '"' || c === "'") {
      // A quoted string without a name: skip it rather than give up on the document.
      i = s.text.indexOf(c, i + 1);
      if (i === -1) return -1;
      i++;
      continue;
    }
    NAME.lastIndex = i;
    const name = /\s|\//.test(c) ? undefined : NAME.exec(s.text)?.[0];
    if (name === undefined) {
      i++;
      continue;
    }
    const value = readAttributeValue(s.text, i + name.length);
    if (value === undefined) return -1;
    if (count++ < BODY_VALUE_LIMITS.maxContainerSize) {
      setOwn(out, name, capString(decodeEntities(value.text), s.notes));
    } else s.notes.add("container-truncated");
    i = value.end;
  }
  return -1;
}

function readAttributeValue(text: string, from: number): { text: string; end: number } | undefined {
  let i = from;
  while (/\s/.test(text.charAt(i))) i++;
  if (text.charAt(i) !== "=") return { text: "", end: from };
  i++;
  while (/\s/.test(text.charAt(i))) i++;
  const quote = text.charAt(i);
  if (quote === '"' || quote === "'") {
    const close = text.indexOf(quote, i + 1);
    return close === -1 ? undefined : { text: text.slice(i + 1, close), end: close + 1 };
  }
  NAME.lastIndex = i;
  const bare = NAME.exec(text)?.[0] ?? "";
  return { text: bare, end: i + bare.length };
}

function pushElement(
  s: State,
  name: string,
  attributes: Record<string, string>,
  selfClosing: boolean,
): void {
  const parent = s.stack.at(-1) as Frame;
  if (s.stack.length > MAX_ELEMENT_DEPTH) {
    s.notes.add("depth-truncated");
    for (const value of Object.values(attributes)) addChild(s, value);
    if (!selfClosing && s.stack.length < MAX_OPEN) {
      s.stack.push({ name, node: parent.sink, sink: parent.sink });
    }
    return;
  }
  const node: XmlElement = Object.keys(attributes).length > 0 ? { attributes } : {};
  addChild(s, node);
  if (!selfClosing) s.stack.push({ name, node, sink: node });
}

function addText(s: State, raw: string): void {
  if (raw.trim() === "") return;
  addChild(s, capString(decodeEntities(raw).trim(), s.notes));
}

function addChild(s: State, child: unknown): void {
  if (child === "") return;
  const sink = (s.stack.at(-1) as Frame).sink;
  sink.children ??= [];
  if (sink.children.length < BODY_VALUE_LIMITS.maxContainerSize) sink.children.push(child);
  else s.notes.add("container-truncated");
}

const ENTITY = /&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|lt|gt|amp|quot|apos);/g;
const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Decodes predefined entities and character references; anything else stays as written. */
export function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(ENTITY, (whole, ref: string) => {
    if (!ref.startsWith("#")) return NAMED[ref] ?? whole;
    const code = ref[1] === "x" ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
    return code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)
      ? String.fromCodePoint(code)
      : whole;
  });
}

function finish(top: XmlElement, doctype: string | undefined): XmlElement | undefined {
  const children = top.children ?? [];
  if (children.length === 0 && doctype === undefined) return undefined;
  const only = children.length === 1 && typeof children[0] === "object" ? children[0] : undefined;
  const result = (only as XmlElement | undefined) ?? top;
  if (doctype !== undefined) result.children = [doctype, ...(result.children ?? [])];
  return result;
}
