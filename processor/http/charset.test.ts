import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeText, detectCharset, isWideText } from "./charset.ts";

const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ""), "hex"));
const utf16le = (s: string) => Uint8Array.from(Buffer.from(s, "utf16le"));
const utf16be = (s: string) => Uint8Array.from(Buffer.from(s, "utf16le").swap16());
const utf32be = (s: string) => {
  const out = Buffer.alloc(s.length * 4);
  for (let i = 0; i < s.length; i++) out.writeUInt32BE(s.charCodeAt(i), i * 4);
  return Uint8Array.from(out);
};
const utf32le = (s: string) => {
  const out = Buffer.alloc(s.length * 4);
  for (let i = 0; i < s.length; i++) out.writeUInt32LE(s.charCodeAt(i), i * 4);
  return Uint8Array.from(out);
};
const concat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));

/** Charsets a backend decodes before the WAF can see the payload (issue 14). */
const decodes: Array<[string, Uint8Array, string | undefined, string]> = [
  ["UTF-8 default", new TextEncoder().encode("é<"), undefined, "é<"],
  ["UTF-8 BOM dropped", hex("efbbbf 3c"), "utf-8", "<"],
  ["UTF-16LE with BOM", concat(hex("fffe"), utf16le("<script>")), "utf-16", "<script>"],
  ["UTF-16BE with BOM", concat(hex("feff"), utf16be("<script>")), "utf-16", "<script>"],
  ["BOM wins over the declared charset", concat(hex("fffe"), utf16le("<a>")), "utf-8", "<a>"],
  ["BOM without a declared charset", concat(hex("feff"), utf16be("<a>")), undefined, "<a>"],
  ["UTF-16 without BOM, little-endian", utf16le("<script>"), "utf-16", "<script>"],
  ["UTF-16 without BOM, big-endian (Java's default)", utf16be("<script>"), "UTF-16", "<script>"],
  ["UTF-16BE declared", utf16be("<a>"), "utf-16be", "<a>"],
  ["UTF-32BE", utf32be("<a>"), "utf-32", "<a>"],
  ["UTF-32LE", utf32le("<a>"), "UTF-32LE", "<a>"],
  ["UTF-32LE with BOM", concat(hex("fffe0000"), utf32le("<a>")), undefined, "<a>"],
  ["UTF-32BE with BOM", concat(hex("0000feff"), utf32be("<a>")), undefined, "<a>"],
  ["UTF-32 invalid code point", hex("00110000"), "utf-32be", "\uFFFD"],
  ["UTF-32 astral", hex("0001f600"), "utf-32be", "😀"],
  ["UTF-7", new TextEncoder().encode("+ADw-script+AD4-"), "utf-7", "<script>"],
  ["UTF-7 literal plus", new TextEncoder().encode("1+-1"), "UTF-7", "1+1"],
  ["Latin-1", hex("e9 3c"), "iso-8859-1", "é<"],
  ["windows-1252", hex("80"), "windows-1252", "€"],
  ["IBM037", hex("c07f987f7a7f5b879396828193a27fd0"), "ibm037", '{"q":"$globals"}'],
  ["IBM037 alias", hex("4c a2 6e"), "CP037", "<s>"],
  ["IBM500", hex("4ca283998997a36e"), "ibm500", "<script>"],
  ["IBM1140", hex("9f"), "IBM01140", "€"],
  ["unknown charset falls back to UTF-8", new TextEncoder().encode("é"), "no-such-charset", "é"],
];

for (const [name, bytes, charset, expected] of decodes) {
  test(`decodeText: ${name}`, () => {
    assert.equal(decodeText(bytes, charset), expected);
  });
}

test("decodeText: invalid UTF-8 becomes replacement characters", () => {
  assert.equal(
    decodeText(new Uint8Array([0x61, 0xff, 0xfe, 0x62, 0xc3]), undefined),
    "a\uFFFD\uFFFDb\uFFFD",
  );
});

const detections: Array<[string, Uint8Array, string | undefined]> = [
  ["UTF-16LE", utf16le('{"'), "utf-16le"],
  ["UTF-16BE", utf16be('{"'), "utf-16be"],
  ["UTF-32LE", utf32le("{"), "utf-32le"],
  ["UTF-32BE", utf32be("{"), "utf-32be"],
  ["EBCDIC XML declaration", hex("4c6fa794"), "ibm037"],
  ["UTF-8", new TextEncoder().encode('{"a"'), undefined],
  ["one byte", hex("7b"), undefined],
  ["empty", new Uint8Array(0), undefined],
];

for (const [name, bytes, expected] of detections) {
  test(`detectCharset: ${name}`, () => {
    assert.equal(detectCharset(bytes), expected);
  });
}

test("isWideText", () => {
  assert.equal(isWideText(utf16le("ab")), true);
  assert.equal(isWideText(concat(hex("feff"), utf16be("ab"))), true);
  assert.equal(isWideText(hex("efbbbf41")), false);
  assert.equal(isWideText(new TextEncoder().encode("ab")), false);
});

test("decodeText: a 4 MiB EBCDIC body decodes in linear time", () => {
  const started = performance.now();
  const text = decodeText(new Uint8Array(4 * 1024 * 1024).fill(0x81), "ibm037");
  assert.equal(text.length, 4 * 1024 * 1024);
  assert.equal(text.slice(0, 2), "aa");
  assert.ok(performance.now() - started < 2000);
});
