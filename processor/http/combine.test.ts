import assert from "node:assert/strict";
import { test } from "node:test";
import { combineReadings } from "./combine.ts";

const cases: Array<[string, unknown[], unknown]> = [
  ["one reading as it is", [["x"]], ["x"]],
  ["maps merged so key paths still resolve", [{ a: 1 }, { payload: "x" }], { a: 1, payload: "x" }],
  ["a key read differently keeps both values", [{ q: "a" }, { q: "b" }], { q: ["a", "b"] }],
  ["agreeing readings kept once", [{ q: "a" }, { q: "a", r: 1 }], { q: "a", r: 1 }],
  [
    "an array value is not taken for a repeat",
    [{ q: [1] }, { q: [2] }, { q: [3] }],
    { q: [[1], [2], [3]] },
  ],
  ["text under the empty key", [{ a: 1 }, "raw", "more"], { a: 1, "": ["raw", "more"] }],
  ["no map: a list", ["a", ["b"]], ["a", ["b"]]],
  ["empty maps add nothing", [{}, { a: 1 }], { a: 1 }],
];

for (const [name, readings, expected] of cases) {
  test(`combineReadings: ${name}`, () => {
    assert.deepEqual(combineReadings(readings, new Set()), expected);
  });
}

test("combineReadings: at most 256 keys", () => {
  const notes = new Set<string>();
  const big = Object.fromEntries(Array.from({ length: 256 }, (_, i) => [`k${i}`, i]));
  const merged = combineReadings([big, { extra: 1 }], notes) as Record<string, unknown>;
  assert.equal(Object.keys(merged).length, 256);
  assert.ok(notes.has("container-truncated"));
});

test("combineReadings: __proto__ stays data", () => {
  const merged = combineReadings([JSON.parse('{"__proto__":{"x":1}}'), { a: 1 }], new Set());
  assert.deepEqual(Object.keys(merged as object), ["__proto__", "a"]);
  assert.equal(Object.getPrototypeOf(merged), Object.prototype);
});
