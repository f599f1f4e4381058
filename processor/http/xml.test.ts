import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeEntities, parseXmlText, type XmlElement } from "./xml.ts";

const cases: Array<[string, string, XmlElement | undefined]> = [
  ["element with text", "<a>hi</a>", { children: ["hi"] }],
  [
    "attributes decoded, children in order",
    `<r x="1 &lt;b&gt;" y='2'><c>t</c><d/>tail</r>`,
    { attributes: { x: "1 <b>", y: "2" }, children: [{ children: ["t"] }, {}, "tail"] },
  ],
  [
    "declaration, comments and PIs skipped",
    '<?xml version="1.0"?><!-- c --><a><?pi x?>v</a>',
    { children: ["v"] },
  ],
  [
    "CDATA is text",
    "<a><![CDATA[ <script>x</script> ]]></a>",
    { children: ["<script>x</script>"] },
  ],
  [
    "escaped markup becomes text",
    "<q>&lt;script&gt;alert(1)&lt;/script&gt;</q>",
    { children: ["<script>alert(1)</script>"] },
  ],
  ["whitespace-only text dropped", "<a>\n  <b>x</b>\n</a>", { children: [{ children: ["x"] }] }],
  [
    "several roots wrapped",
    "<a>1</a><b>2</b>",
    { children: [{ children: ["1"] }, { children: ["2"] }] },
  ],
  ["stray text kept", "hello <b>x</b>", { children: ["hello", { children: ["x"] }] }],
  [
    "unclosed elements closed (truncated)",
    "<a><b>partial",
    { children: [{ children: ["partial"] }] },
  ],
  ["tag cut by end of input dropped", '<a>v</a><b c="x', { children: ["v"] }],
  ["lone < is text", "<a>1 < 2</a>", { children: ["1", "<", "2"] }],
  ["only a comment", "<!-- nothing -->", undefined],
  [
    "attribute without value",
    "<a disabled>x</a>",
    { attributes: { disabled: "" }, children: ["x"] },
  ],
  [
    "namespaced names kept",
    '<s:E xmlns:s="urn:x"><s:B>v</s:B></s:E>',
    { attributes: { "xmlns:s": "urn:x" }, children: [{ children: ["v"] }] },
  ],
];

for (const [name, input, expected] of cases) {
  test(`xml: ${name}`, () => {
    assert.deepEqual(parseXmlText(input, new Set()), expected);
  });
}

test("xml: DOCTYPE is never interpreted, its text is kept, entities stay literal", () => {
  const notes = new Set<string>();
  const doc = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>';
  assert.deepEqual(parseXmlText(doc, notes), {
    children: ['<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;"],
  });
  assert.ok(notes.has("xml-doctype-ignored"));
});

test("xml: mismatched close tag is noted, parsing goes on", () => {
  const notes = new Set<string>();
  assert.deepEqual(parseXmlText("<a><b>1</c>2</b></a>", notes), {
    children: [{ children: ["1", "2"] }],
  });
  assert.ok(notes.has("xml-malformed"));
});

test("xml: deep nesting is flattened into the 10th level", () => {
  const notes = new Set<string>();
  const depth = 10_000;
  const doc = `${"<a>".repeat(depth)}<a k="attr">deep</a>${"</a>".repeat(depth)}`;
  let node = parseXmlText(doc, notes);
  let levels = 0;
  while (node?.children?.some((c) => typeof c === "object")) {
    node = node.children.find((c) => typeof c === "object") as XmlElement;
    levels++;
  }
  assert.equal(levels, 9);
  assert.deepEqual(node?.children, ["attr", "deep"]);
  assert.ok(notes.has("depth-truncated"));
});

test("xml: a flood of stray close tags stays fast", () => {
  const doc = `${"<a>".repeat(256)}${"</zz>".repeat(200_000)}`;
  const started = performance.now();
  parseXmlText(doc, new Set());
  assert.ok(performance.now() - started < 2000);
});

test("xml: children and attributes are capped at 256", () => {
  const notes = new Set<string>();
  const attrs = Array.from({ length: 300 }, (_, i) => `a${i}="${i}"`).join(" ");
  const value = parseXmlText(`<r ${attrs}>${"<c/>".repeat(300)}</r>`, notes);
  assert.equal(Object.keys(value?.attributes ?? {}).length, 256);
  assert.equal(value?.children?.length, 256);
  assert.ok(notes.has("container-truncated"));
});

test("xml: unterminated quote inside a tag does not lose earlier content", () => {
  assert.deepEqual(parseXmlText('<a>keep</a><b "oops>', new Set()), { children: ["keep"] });
});

const entities: Array<[string, string]> = [
  ["&lt;&gt;&amp;&quot;&apos;", `<>&"'`],
  ["&#60;&#x3C;", "<<"],
  ["&#xD800;", "&#xD800;"],
  ["&#x110000;", "&#x110000;"],
  ["&nbsp;&unknown;", "&nbsp;&unknown;"],
  ["& alone", "& alone"],
];

for (const [input, expected] of entities) {
  test(`decodeEntities(${JSON.stringify(input)})`, () => {
    assert.equal(decodeEntities(input), expected);
  });
}
