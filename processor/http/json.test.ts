import assert from "node:assert/strict";
import { test } from "node:test";
import { parseJsonText, repairJson } from "./json.ts";

const repairs: Array<[string, string, string | undefined]> = [
  ["complete pairs kept, open object closed", '{"a":1,"b":"x"', '{"a":1,"b":"x"}'],
  ["half-read key dropped", '{"a":1,"b', '{"a":1}'],
  ["key without colon gets null", '{"a":1,"b"', '{"a":1,"b":null}'],
  ["key without value gets null", '{"a":1,"b":', '{"a":1,"b":null}'],
  ["half-read string value kept", '{"a":"hel', '{"a":"hel"}'],
  ["dangling escape removed", '{"a":"x\\', '{"a":"x"}'],
  ["partial unicode escape removed", '{"a":"x\\u00', '{"a":"x"}'],
  ["escaped backslash kept", '{"a":"x\\\\', '{"a":"x\\\\"}'],
  ["nested arrays and objects closed", '[1,{"a":[2,3', '[1,{"a":[2,3]}]'],
  ["trailing comma removed", "[1,2,", "[1,2]"],
  ["partial literal dropped", '{"a":tru', '{"a":null}'],
  ["partial number trimmed", "[1,2.", "[1,2]"],
  ["syntax error cuts there", '{"a":1} trailing', '{"a":1}'],
  ["error inside object", '{"a":1, oops "b":2}', '{"a":1}'],
  ["empty containers", '{"a":[],"b":{}', '{"a":[],"b":{}}'],
  ["nothing started", "   ", undefined],
  ["not json at all", "hello", undefined],
];

for (const [name, input, expected] of repairs) {
  test(`repairJson: ${name}`, () => {
    assert.equal(repairJson(input), expected);
  });
}

const parses: Array<[string, string, boolean, unknown]> = [
  ["valid object", '{"a":[1,"x",null,true]}', false, { a: [1, "x", null, true] }],
  ["scalar root", '"just a string"', false, "just a string"],
  ["1e400 becomes a string", "[1e400]", false, ["Infinity"]],
  ["integer beyond int64 stays a float", "18446744073709551616", false, 2 ** 64],
  ["malformed, not lenient", '{"a":', false, undefined],
  ["malformed, lenient", '{"key": "value"', true, { key: "value" }],
  ["root null after repair is nothing", "nul", true, undefined],
];

for (const [name, input, lenient, expected] of parses) {
  test(`parseJsonText: ${name}`, () => {
    const parsed = parseJsonText(input, lenient, new Set());
    assert.deepEqual(parsed?.value, expected);
  });
}

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
