import assert from "node:assert/strict";
import { test } from "node:test";
import { parseJsonText } from "./json.ts";
import { readJsonLenient } from "./json-lenient.ts";

/** A body cut at the limit: what is open at the cut is closed (docs/go-compatibility.md#bodies). */
const cuts: Array<[string, string, unknown]> = [
  ["complete pairs kept, open object closed", '{"a":1,"b":"x"', { a: 1, b: "x" }],
  ["half-read key dropped", '{"a":1,"b', { a: 1 }],
  ["key without colon gets null", '{"a":1,"b"', { a: 1, b: null }],
  ["key without value gets null", '{"a":1,"b":', { a: 1, b: null }],
  ["half-read string value kept", '{"a":"hel', { a: "hel" }],
  ["dangling escape removed", '{"a":"x\\', { a: "x" }],
  ["partial unicode escape removed", '{"a":"x\\u00', { a: "x" }],
  ["escaped backslash kept", '{"a":"x\\\\', { a: "x\\" }],
  ["nested arrays and objects closed", '[1,{"a":[2,3', [1, { a: [2, 3] }]],
  ["trailing comma removed", "[1,2,", [1, 2]],
  ["partial literal dropped", '{"a":tru', { a: null }],
  ["partial number trimmed", "[1,2.", [1, 2]],
  ["empty containers", '{"a":[],"b":{}', { a: [], b: {} }],
  ["nothing started", "   ", undefined],
  ["root null after repair is nothing", "nul", undefined],
];

for (const [name, input, expected] of cuts) {
  test(`parseJsonText, cut body: ${name}`, () => {
    assert.deepEqual(parseJsonText(input, true, new Set())?.value, expected);
  });
}

const parses: Array<[string, string, unknown]> = [
  ["valid object", '{"a":[1,"x",null,true]}', { a: [1, "x", null, true] }],
  ["scalar root", '"just a string"', "just a string"],
  ["1e400 becomes a string", "[1e400]", ["Infinity"]],
  ["integer beyond int64 stays a float", "18446744073709551616", 2 ** 64],
  ["open document, not cut", '{"a":', { a: null }],
  ["not json at all", "hello", undefined],
];

for (const [name, input, expected] of parses) {
  test(`parseJsonText: ${name}`, () => {
    assert.deepEqual(parseJsonText(input, false, new Set())?.value, expected);
  });
}

/** Shapes backends read differently: every reading is kept (issue 14). */
const evasions: Array<[string, string, unknown, string[]]> = [
  [
    "duplicate key: first-wins and last-wins both seen",
    '{"q":"$globals","q":"benign"}',
    { q: ["$globals", "benign"] },
    ["json-duplicate-keys"],
  ],
  [
    "duplicate key repeated three times, nested",
    '{"a":{"q":1,"q":2,"q":3}}',
    { a: { q: [1, 2, 3] } },
    ["json-duplicate-keys"],
  ],
  [
    "duplicate key with whitespace before the colon",
    '{"q" : "x", "q"\n:"y"}',
    { q: ["x", "y"] },
    ["json-duplicate-keys"],
  ],
  [
    "trailing garbage after a document",
    '{"a":1} <script>',
    { a: 1, "": "<script>" },
    ["json-malformed", "json-multiple-values"],
  ],
  [
    "a second document",
    '{"a":1}{"q":"$globals"}',
    { a: 1, q: "$globals" },
    ["json-malformed", "json-multiple-values"],
  ],
  [
    "newline-delimited documents",
    '{"a":1}\n{"a":2,"b":2}\n[3]',
    { a: [1, 2], b: 2, "": [3] },
    ["json-malformed", "json-multiple-values"],
  ],
  ["stray closing brackets", '{"a":"x"}]}', { a: "x" }, ["json-malformed"]],
  ["stray closing bracket first", ']{"a":"x"}', { a: "x" }, ["json-malformed"]],
  [
    "XSSI prefix",
    ')]}\'\n{"a":"x"}',
    { a: "x", "": [")", "'"] },
    ["json-malformed", "json-multiple-values"],
  ],
  ["mismatched closing bracket", '{"a":["x"}', { a: ["x"] }, ["json-malformed"]],
  ["comments", '{"a": /* c */ "x" // d\n}', { a: "x" }, ["json-malformed"]],
  ["single quotes and bare key", "{a: 'x', 'b': \"y\"}", { a: "x", b: "y" }, ["json-malformed"]],
  ["bare value", '{"a": $globals}', { a: "$globals" }, ["json-malformed"]],
  ["missing comma", '{"a": 1 "b": 2}', { a: 1, b: 2 }, ["json-malformed"]],
];

for (const [name, input, expected, notes] of evasions) {
  test(`parseJsonText evasion: ${name}`, () => {
    const seen = new Set<string>();
    assert.deepEqual(parseJsonText(input, false, seen)?.value, expected);
    assert.deepEqual([...seen], notes);
  });
}

test("parseJsonText: documents that are not maps stay a list", () => {
  assert.deepEqual(parseJsonText('[1] "x" 2', false, new Set())?.value, [[1], "x", 2]);
});

test("parseJsonText: a clean document is not read twice, even with colons in strings", () => {
  const notes = new Set<string>();
  const parsed = parseJsonText('{"url":"http://x/a:b","t":"12:30","s":":"}', false, notes);
  assert.deepEqual(parsed, {
    value: { url: "http://x/a:b", t: "12:30", s: ":" },
    malformed: false,
  });
  assert.deepEqual([...notes], []);
});

test("parseJsonText: a repeated key past the container limit of a cut value is still found", () => {
  const notes = new Set<string>();
  const pad = Array.from({ length: 300 }, (_, i) => i).join(",");
  const parsed = parseJsonText(`{"pad":[${pad}],"q":"$globals","q":"x"}`, false, notes);
  assert.deepEqual((parsed?.value as { q: unknown } | undefined)?.q, ["$globals", "x"]);
  assert.ok(notes.has("json-duplicate-keys") && notes.has("container-truncated"));
});

test("readJsonLenient: a million stray brackets cost linear time", () => {
  const started = performance.now();
  const read = readJsonLenient(`${"]".repeat(1_000_000)}{"a":1}`, new Set());
  assert.deepEqual(read.values, [{ a: 1 }]);
  assert.ok(performance.now() - started < 2000);
});

test("readJsonLenient: 10,000-deep nesting is skipped past depth 20", () => {
  const notes = new Set<string>();
  const read = readJsonLenient(`${"[".repeat(10_000)}1${"]".repeat(10_000)} {"b":2}`, notes);
  assert.equal(depthOf(read.values[0]), 20);
  assert.deepEqual(read.values[1], { b: 2 });
  assert.ok(notes.has("depth-truncated"));
});

test("readJsonLenient: more than 256 documents are cut", () => {
  const notes = new Set<string>();
  const read = readJsonLenient("{}".repeat(1000), notes);
  assert.equal(read.values.length, 256);
  assert.ok(notes.has("container-truncated"));
});

test("readJsonLenient: a repeated key keeps at most 256 values", () => {
  const notes = new Set<string>();
  const body = `{${Array.from({ length: 300 }, (_, i) => `"q":${i}`).join(",")}}`;
  const read = readJsonLenient(body, notes);
  assert.equal((read.values[0] as { q: unknown[] }).q.length, 256);
});

test("readJsonLenient: a long string with escapes is cut to 4096 characters", () => {
  const notes = new Set<string>();
  const read = readJsonLenient(`["${"\\u0041".repeat(100_000)}"] x`, notes);
  assert.equal((read.values[0] as string[])[0], "A".repeat(4096));
  assert.ok(notes.has("string-truncated"));
});

test("readJsonLenient: __proto__ keys stay data", () => {
  const read = readJsonLenient('{"__proto__":{"p":1},"__proto__":2} x', new Set());
  const value = read.values[0] as Record<string, unknown>;
  assert.deepEqual(Object.keys(value), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
});

function depthOf(value: unknown): number {
  let depth = 0;
  let current = value;
  while (Array.isArray(current) && current.length > 0) {
    depth++;
    current = current[0];
  }
  return Array.isArray(current) ? depth + 1 : depth;
}

test("json: 10,000-deep nesting is cut at depth 20", () => {
  const notes = new Set<string>();
  const parsed = parseJsonText(`${"[".repeat(10_000)}1${"]".repeat(10_000)}`, false, notes);
  assert.equal(depthOf(parsed?.value), 20);
  assert.ok(notes.has("depth-truncated"));
});

test("json: 10,000-deep truncated nesting is repaired and cut", () => {
  const notes = new Set<string>();
  const parsed = parseJsonText(`${'{"a":['.repeat(10_000)}1`, true, notes);
  assert.ok(parsed);
  assert.ok(notes.has("json-repaired"));
  assert.ok(notes.has("depth-truncated"));
});

test("json: a million-element array keeps 256 elements", () => {
  const notes = new Set<string>();
  const parsed = parseJsonText(`[${"1,".repeat(1_000_000)}1]`, false, notes);
  assert.equal((parsed?.value as unknown[] | undefined)?.length, 256);
  assert.ok(notes.has("container-truncated"));
});

test("json: an object with many keys keeps 256", () => {
  const notes = new Set<string>();
  const body = `{${Array.from({ length: 1000 }, (_, i) => `"k${i}":${i}`).join(",")}}`;
  const parsed = parseJsonText(body, false, notes);
  assert.equal(Object.keys(parsed?.value as object).length, 256);
});

test("json: a 10 MB string is cut to 4096 characters", () => {
  const notes = new Set<string>();
  const parsed = parseJsonText(`{"a":"${"x".repeat(10 * 1024 * 1024)}"}`, false, notes);
  assert.equal((parsed?.value as { a: string } | undefined)?.a.length, 4096);
  assert.ok(notes.has("string-truncated"));
});

test("json: a 10 MB truncated single-line string is repaired", () => {
  const parsed = parseJsonText(`["${"y".repeat(10 * 1024 * 1024)}`, true, new Set());
  assert.equal((parsed?.value as string[] | undefined)?.[0]?.length, 4096);
});

test("json: __proto__ keys stay data", () => {
  const parsed = parseJsonText('{"__proto__":{"polluted":1}}', false, new Set());
  const value = parsed?.value as Record<string, unknown>;
  assert.deepEqual(Object.keys(value), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
});
