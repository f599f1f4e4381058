import assert from "node:assert/strict";
import { test } from "node:test";
import { formDecode, parseQuery, parseUrlEncoded } from "./query.ts";

const queryCases: Array<[string, string, Record<string, string[]>]> = [
  ["empty", "", {}],
  ["leading ?", "?a=1", { a: ["1"] }],
  ["plus is space", "q=a+b", { q: ["a b"] }],
  ["%20 is space", "q=a%20b", { q: ["a b"] }],
  ["%2B is plus", "q=a%2Bb", { q: ["a+b"] }],
  ["malformed escape kept", "q=%zz", { q: ["%zz"] }],
  ["truncated escape kept", "q=50%", { q: ["50%"] }],
  ["mixed good and bad escapes", "q=%3Cx%zz%3E", { q: ["<x%zz>"] }],
  ["utf-8 escapes", "q=%C3%A9", { q: ["é"] }],
  ["invalid utf-8 becomes U+FFFD", "q=%C3", { q: ["\uFFFD"] }],
  [
    "semicolon is literal, then split as Python < 3.9.2 did",
    "a=1;b=2",
    { a: ["1;b=2", "1"], b: ["2"] },
  ],
  ["semicolon hides a key", "x=1;q=match", { x: ["1;q=match", "1"], q: ["match"] }],
  ["double encoding read twice", "q=%2524globals", { q: ["%24globals", "$globals"] }],
  ["IIS %u escapes", "q=%u0024globals", { q: ["%u0024globals", "$globals"] }],
  [
    "overlong UTF-8 as lax decoders read it",
    "q=%C0%A4globals",
    { q: ["\uFFFD\uFFFDglobals", "$globals"] },
  ],
  ["overlong slash (IIS traversal)", "p=..%c0%af..", { p: ["..\uFFFD\uFFFD..", "../.."] }],
  ["three-byte overlong", "q=%E0%80%BCx", { q: ["\uFFFD\uFFFD\uFFFDx", "<x"] }],
  ["plain %25 without a second escape", "q=100%25", { q: ["100%"] }],
  ["fullwidth characters folded by NFKC", "q=%EF%BC%84globals", { q: ["＄globals", "$globals"] }],
  ["accented letters unchanged by NFKC", "q=caf%C3%A9", { q: ["café"] }],
  ["repeated keys keep all values", "x=1&x=2&x=3", { x: ["1", "2", "3"] }],
  ["empty value", "a=", { a: [""] }],
  ["no equals sign", "flag", { flag: [""] }],
  ["empty pairs skipped", "a=1&&b=2&", { a: ["1"], b: ["2"] }],
  ["equals in value", "a=b=c", { a: ["b=c"] }],
  ["encoded key", "a%5B%5D=1", { "a[]": ["1"] }],
  ["empty key", "=v", { "": ["v"] }],
];

for (const [name, raw, expected] of queryCases) {
  test(`parseQuery: ${name}`, () => {
    assert.deepEqual(parseQuery(raw), expected);
  });
}

test("parseQuery: __proto__ and constructor are ordinary keys", () => {
  const parsed = parseQuery("__proto__=x&constructor=y");
  assert.deepEqual(Object.keys(parsed), ["__proto__", "constructor"]);
  assert.deepEqual(parsed.constructor, ["y"]);
  assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
});

test("formDecode never throws on hostile escapes", () => {
  assert.equal(formDecode("%%%E0%A4%A"), "%%\uFFFD%A");
});

test("formDecode in a declared charset", () => {
  assert.equal(formDecode("caf%E9", "iso-8859-1"), "café");
  assert.equal(formDecode("%3C%00s%00", "utf-16le"), "<s");
  assert.equal(formDecode("%3C", "utf-8"), "<");
});

test("parseUrlEncoded: a Latin-1 form decodes its escapes in Latin-1, and as UTF-8 too", () => {
  assert.deepEqual(parseUrlEncoded("q=%E9t%E9&a=%3C", undefined, "ISO-8859-1"), {
    q: ["été", "\uFFFDt\uFFFD"],
    a: ["<"],
  });
});

test("parseUrlEncoded: variants count against the limits", () => {
  const notes = new Set<string>();
  const parsed = parseUrlEncoded("q=%2524x", { maxKeys: 1, maxValuesPerKey: 1, notes });
  assert.deepEqual(parsed, { q: ["%24x"] });
  assert.deepEqual([...notes], ["container-truncated"]);
});

test("parseUrlEncoded with limits caps keys, values and strings", () => {
  const notes = new Set<string>();
  const limits = { maxKeys: 2, maxValuesPerKey: 2, notes };
  const long = "x".repeat(5000);
  const parsed = parseUrlEncoded(`a=1&a=2&a=3&b=${long}&c=4`, limits);
  assert.deepEqual(parsed.a, ["1", "2"]);
  assert.equal(parsed.b?.[0]?.length, 4096);
  assert.equal(parsed.c, undefined);
  assert.deepEqual([...notes].sort(), ["container-truncated", "string-truncated"]);
});
