import assert from "node:assert/strict";
import { test } from "node:test";
import { brotliCompressSync, deflateSync, gzipSync, zstdCompressSync } from "node:zlib";
import {
  compressionOf,
  isKnownBinary,
  isMarkupDocument,
  looksBinary,
  sniffTextKind,
} from "./sniff.ts";

const text = (s: string) => new TextEncoder().encode(s);
const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ""), "hex"));

test("compressionOf: gzip, zlib and zstd signatures", () => {
  assert.equal(compressionOf(gzipSync(text("x"))), "gzip");
  assert.equal(compressionOf(deflateSync(text("x"))), "deflate");
  assert.equal(compressionOf(deflateSync(text("x"), { level: 1 })), "deflate");
  assert.equal(compressionOf(deflateSync(text("x"), { level: 9 })), "deflate");
  assert.equal(compressionOf(zstdCompressSync(text("x"))), "zstd");
  assert.equal(compressionOf(brotliCompressSync(text("x"))), undefined);
  for (const plain of ["x=1", "x ", "x?", '{"a":1}', ""]) {
    assert.equal(compressionOf(text(plain)), undefined, plain);
  }
});

/** Uploads that must never be parsed as text, whatever their type says. */
const binaries: Array<[string, Uint8Array]> = [
  ["PNG", hex("89504e470d0a1a0a")],
  ["JPEG", hex("ffd8ffe0")],
  ["GIF", text("GIF89a")],
  ["PDF", text("%PDF-1.7\n")],
  ["ZIP", hex("504b0304")],
  ["7z", hex("377abcaf271c")],
  ["bzip2", text("BZh91AY")],
  ["xz", hex("fd377a585a00")],
  ["WebP", text("RIFF\0\0\0\0WEBP")],
  ["MP4", hex("00000018 66747970 69736f6d")],
  ["ELF", hex("7f454c46")],
  ["SQLite", text("SQLite format 3\0")],
  ["tar", Uint8Array.from([...new Uint8Array(257).fill(0x61), ...text("ustar")])],
];

for (const [name, bytes] of binaries) {
  test(`isKnownBinary: ${name}`, () => {
    assert.equal(isKnownBinary(bytes), true);
  });
}

test("isKnownBinary: text is not", () => {
  for (const plain of ['{"a":1}', "a=1", "<r/>", "hello", ""]) {
    assert.equal(isKnownBinary(text(plain)), false, plain);
  }
});

test("looksBinary: control bytes in the first 512 bytes", () => {
  assert.equal(looksBinary(text("a\tb\r\nc\fd\x1b[0m")), false);
  assert.equal(looksBinary(hex("410042")), true);
  assert.equal(looksBinary(brotliCompressSync(text('{"a":"<script>"}'))), true);
  assert.equal(looksBinary(Uint8Array.from([...text("a".repeat(600)), 0])), false);
  assert.equal(looksBinary(Uint8Array.from([...text("a".repeat(100)), 0]), 64), false);
});

const kinds: Array<[string, boolean, string | undefined]> = [
  ['{"a":1}', false, "json"],
  ["  \n[1,2]", false, "json"],
  ["<r/>", false, "xml"],
  ["a=1&b=2", true, "urlencoded"],
  ["a=1&b=2", false, undefined],
  ["q=%3Cscript%3E&x", true, "urlencoded"],
  ["a=", true, "urlencoded"],
  ["hello world", true, undefined],
  ["a = 1", true, undefined],
  ["no equals", true, undefined],
  ["=x", true, undefined],
  ["a=1\nb=2", true, undefined],
  [`a=${"x".repeat(1000)} y`, true, "urlencoded"],
  ["", true, undefined],
];

for (const [input, form, expected] of kinds) {
  test(`sniffTextKind(${JSON.stringify(input.slice(0, 20))}, ${form}) is ${expected}`, () => {
    assert.equal(sniffTextKind(input, form), expected);
  });
}

test("isMarkupDocument: SVG and HTML files", () => {
  assert.equal(isMarkupDocument('<?xml version="1.0"?>\n<svg xmlns="x">'), true);
  assert.equal(isMarkupDocument("<!DOCTYPE html><p>"), true);
  assert.equal(isMarkupDocument("<html>"), true);
  assert.equal(isMarkupDocument("<order><id>1</id></order>"), false);
  assert.equal(isMarkupDocument("<svgdata/>"), false);
});
