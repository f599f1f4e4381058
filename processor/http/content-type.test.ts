import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeText } from "./charset.ts";
import { bodyKindFromContentType } from "./content-type.ts";
import { parseMediaType } from "./media-type.ts";

const kinds: Array<[string | undefined, string | undefined]> = [
  ["application/json", "json"],
  ["Application/JSON; charset=utf-8", "json"],
  ["application/vnd.api+json", "json"],
  ["application/problem+json", "json"],
  ["text/json", "json"],
  ["application/x-ndjson", "json"],
  ["application/x-www-form-urlencoded", "urlencoded"],
  ["application/x-www-form-urlencoded; charset=UTF-8", "urlencoded"],
  ["multipart/form-data; boundary=abc", "multipart"],
  ["multipart/form-data", "multipart"],
  ["application/xml", "xml"],
  ["text/xml; charset=iso-8859-1", "xml"],
  ["application/soap+xml", "xml"],
  ["application/atom+xml", "xml"],
  ["text/plain", "text"],
  ["text/plain; charset=utf-8", "text"],
  ["text/html", undefined],
  ["text/csv", undefined],
  ["image/png", undefined],
  ["application/octet-stream", undefined],
  ["multipart/mixed; boundary=x", "multipart"],
  ["multipart/related; boundary=x", "multipart"],
  ["multipart/byteranges; boundary=x", undefined],
  ["", undefined],
  ["json", undefined],
  ["application/json/extra", undefined],
  [undefined, undefined],
];

for (const [contentType, expected] of kinds) {
  test(`bodyKindFromContentType(${JSON.stringify(contentType)}) is ${expected}`, () => {
    assert.equal(bodyKindFromContentType(contentType), expected);
  });
}

test("parseMediaType reads quoted parameters", () => {
  const media = parseMediaType('multipart/form-data; Boundary="a b\\"c"; charset=utf-8');
  assert.equal(media?.essence, "multipart/form-data");
  assert.equal(media?.params.get("boundary"), 'a b"c');
  assert.equal(media?.params.get("charset"), "utf-8");
});

test("decodeText: invalid UTF-8 becomes replacement characters", () => {
  assert.equal(
    decodeText(new Uint8Array([0x61, 0xff, 0xfe, 0x62, 0xc3]), undefined),
    "a\uFFFD\uFFFDb\uFFFD",
  );
});

test("decodeText: declared latin1 charset", () => {
  assert.equal(decodeText(new Uint8Array([0xe9]), "iso-8859-1"), "é");
});

test("decodeText: unknown charset falls back to UTF-8", () => {
  assert.equal(decodeText(new TextEncoder().encode("é"), "no-such-charset"), "é");
});
