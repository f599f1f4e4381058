import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCookies } from "./cookies.ts";

const cookieCases: Array<[string, string[], Record<string, string[]>]> = [
  ["none", [], {}],
  ["simple pairs", ["a=1; b=2"], { a: ["1"], b: ["2"] }],
  ["several headers and repeats", ["a=1", "a=2; b=3"], { a: ["1", "2"], b: ["3"] }],
  ["spaces trimmed", ["  a =  1 ;b=2  "], { a: ["1"], b: ["2"] }],
  ["quotes removed", ['a="x y"'], { a: ["x y"] }],
  ["no equals sign", ["flag; a=1"], { flag: [""], a: ["1"] }],
  ["empty name skipped", ["=x; a=1"], { a: ["1"] }],
  ["empty segments skipped", ["a=1;;  ;b=2"], { a: ["1"], b: ["2"] }],
  ["value keeps '=', then its decoded reading", ["t=a=b%3C"], { t: ["a=b%3C", "a=b<"] }],
  [
    "percent-encoded payload decoded as PHP does",
    ["s=%24globals"],
    { s: ["%24globals", "$globals"] },
  ],
  ["malformed escape kept once", ["s=50%"], { s: ["50%"] }],
  ["quotes and backslashes inside kept", [`q=1' or "1"="1\\`], { q: [`1' or "1"="1\\`] }],
];

for (const [name, headers, expected] of cookieCases) {
  test(`parseCookies: ${name}`, () => {
    assert.deepEqual(parseCookies(headers), expected);
  });
}
