import assert from "node:assert/strict";
import { test } from "node:test";
import {
  paramValues,
  parseMediaType,
  parseMediaTypes,
  parseParameterized,
  splitOutsideQuotes,
} from "./media-type.ts";

/** RFC 9110 §8.3.1 and §5.6.6 parameters, as servers accept them (issue 14). */
const params: Array<[string, string, string, string | undefined]> = [
  ["token value", "multipart/form-data; boundary=abc", "boundary", "abc"],
  ["quoted value", 'multipart/form-data; boundary="abc"', "boundary", "abc"],
  ["quoted value with ';'", 'multipart/form-data; boundary="a;b"; charset=x', "boundary", "a;b"],
  ["quoted value with ','", 'multipart/form-data; boundary="a,b"', "boundary", "a,b"],
  ["escaped quote", 'multipart/form-data; boundary="a\\"b"', "boundary", 'a"b'],
  ["escaped backslash", 'multipart/form-data; boundary="a\\\\b"', "boundary", "a\\b"],
  ["name in any case", "multipart/form-data; BoUnDaRy=abc", "boundary", "abc"],
  ["whitespace around '='", "multipart/form-data; boundary = abc", "boundary", "abc"],
  ["whitespace around ';'", "multipart/form-data ;  boundary=abc  ", "boundary", "abc"],
  ["unterminated quote runs to the end", 'text/plain; charset="utf-16', "charset", "utf-16"],
  [
    "RFC 2231 sections joined",
    "multipart/form-data; boundary*0=ab; boundary*1=cd",
    "boundary",
    "abcd",
  ],
  ["RFC 2231 sections out of order", "x/y; b*1=cd; b*0=ab", "b", "abcd"],
  ["RFC 2231 extended value", "x/y; filename*=UTF-8''na%C3%AFve.txt", "filename", "naïve.txt"],
  ["RFC 2231 extended sections", "x/y; f*0*=UTF-8''a%20; f*1=b", "f", "a b"],
  ["first of a repeated name", "multipart/form-data; boundary=a; boundary=b", "boundary", "a"],
  ["parameter without '=' skipped", "text/plain; flag; charset=x", "charset", "x"],
];

for (const [name, value, param, expected] of params) {
  test(`parseMediaType: ${name}`, () => {
    assert.equal(parseMediaType(value)?.params.get(param), expected);
  });
}

test("parseMediaType: essence lower-cased, malformed types rejected", () => {
  assert.equal(parseMediaType(" Application/JSON ; x=1")?.essence, "application/json");
  for (const bad of ["", "json", "application/json/extra", "a b/c", "/json"]) {
    assert.equal(parseMediaType(bad), undefined, bad);
  }
});

test("paramValues: every value of a repeated parameter, first one first", () => {
  const media = parseParameterized("form-data; name=a; NAME=b; name=a; filename*=UTF-8''c");
  assert.deepEqual(paramValues(media, "name"), ["a", "b"]);
  assert.deepEqual(paramValues(media, "filename"), ["c"]);
  assert.equal(media.head, "form-data");
});

test("paramValues: filename and filename* are both kept", () => {
  const media = parseParameterized(`form-data; filename="a.txt"; filename*=UTF-8''b.php`);
  assert.deepEqual(paramValues(media, "filename"), ["a.txt", "b.php"]);
});

test("parseMediaTypes: comma-joined lines are each read", () => {
  assert.deepEqual(
    parseMediaTypes("text/html, application/json; charset=utf-8").map((m) => m.essence),
    ["text/html", "application/json"],
  );
});

test("parseMediaTypes: a comma inside quotes does not split", () => {
  const medias = parseMediaTypes('multipart/form-data; boundary="a,b"');
  assert.equal(medias.length, 1);
  assert.equal(medias[0]?.params.get("boundary"), "a,b");
});

test("parseMediaTypes: a comma in a token value also reads the whole value", () => {
  const medias = parseMediaTypes("multipart/form-data; boundary=a,b");
  assert.deepEqual(
    medias.map((m) => [m.essence, m.params.get("boundary")]),
    [
      ["multipart/form-data", "a,b"],
      ["multipart/form-data", "a"],
    ],
  );
});

test("parseMediaTypes: at most four", () => {
  assert.equal(
    parseMediaTypes(Array.from({ length: 10 }, (_, i) => `a/b${i}`).join(",")).length,
    4,
  );
});

test("splitOutsideQuotes", () => {
  assert.deepEqual(splitOutsideQuotes('a;"b;c";d', ";"), ["a", '"b;c"', "d"]);
  assert.deepEqual(splitOutsideQuotes('"x\\";y";z', ";"), ['"x\\";y"', "z"]);
  assert.deepEqual(splitOutsideQuotes("", ";"), [""]);
});
