import assert from "node:assert/strict";
import { test } from "node:test";
import { compactValues } from "./values.ts";

test("single values become strings, repeated names stay lists, empty lists stay empty", () => {
  const input = { accept: ["*/*"], "x-forwarded-for": ["1.1.1.1", "2.2.2.2"], empty: [] };
  assert.deepEqual(compactValues(input), {
    accept: "*/*",
    "x-forwarded-for": ["1.1.1.1", "2.2.2.2"],
    empty: [],
  });
  assert.deepEqual(input.accept, ["*/*"], "the input is not modified");
});

test("an empty map stays empty", () => {
  assert.deepEqual(compactValues({}), {});
});
