import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { brotliCompressSync, deflateSync, gzipSync, zstdCompressSync } from "node:zlib";
import { codingsOf, decodeContent, needsDecoding } from "./content-encoding.ts";

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const MiB = 1024 * 1024;
const json = text('{"a":"<script>"}');

test("codingsOf: one line or several joined, identity dropped", () => {
  assert.deepEqual(codingsOf("gzip, br"), ["gzip", "br"]);
  assert.deepEqual(codingsOf("Identity,GZIP , ,br"), ["gzip", "br"]);
  assert.deepEqual(codingsOf(""), []);
  assert.deepEqual(codingsOf(undefined), []);
});

test("needsDecoding: constant-cost check, false for clean text", () => {
  assert.equal(needsDecoding(json, undefined), false);
  assert.equal(needsDecoding(json, "identity"), false);
  assert.equal(needsDecoding(json, "gzip"), true);
  assert.equal(needsDecoding(gzipSync(json), undefined), true);
  assert.equal(needsDecoding(brotliCompressSync(json), undefined), true);
  assert.equal(needsDecoding(Uint8Array.from(Buffer.from("<a>", "utf16le")), undefined), false);
  assert.equal(
    needsDecoding(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), undefined),
    false,
  );
});

/** A body whose bytes show a coding its headers do not declare (issue 14). */
const sniffed: Array<[string, Uint8Array, string | undefined, string[]]> = [
  ["gzip, undeclared", gzipSync(json), undefined, ["coding-sniffed:gzip"]],
  ["gzip, declared identity", gzipSync(json), "identity", ["coding-sniffed:gzip"]],
  ["zlib, undeclared", deflateSync(json), undefined, ["coding-sniffed:deflate"]],
  ["zstd, undeclared", zstdCompressSync(json), undefined, ["coding-sniffed:zstd"]],
  ["brotli, undeclared", brotliCompressSync(json), undefined, ["coding-sniffed:br"]],
  ["gzip in gzip, one declared", gzipSync(gzipSync(json)), "gzip", ["coding-sniffed:gzip"]],
  ["gzip declared on two lines", gzipSync(gzipSync(json)), "gzip, gzip", []],
  ["declared gzip on plain text", json, "gzip", ["coding-ignored"]],
  ["unknown coding on plain text", json, "compress", ["coding-ignored"]],
];

for (const [name, bytes, declared, notes] of sniffed) {
  test(`decodeContent: ${name}`, async () => {
    const result = await decodeContent(bytes, declared, MiB);
    assert.ok(result.ok);
    assert.equal(decode(result.value.bytes), decode(json));
    assert.deepEqual(result.value.notes, notes);
  });
}

test("decodeContent: at most three layers in all, declared and sniffed", async () => {
  const layered = gzipSync(gzipSync(gzipSync(gzipSync(json))));
  const result = await decodeContent(layered, undefined, MiB);
  assert.ok(result.ok);
  assert.deepEqual(result.value.notes, [
    "coding-sniffed:gzip",
    "coding-sniffed:gzip",
    "coding-sniffed:gzip",
  ]);
  assert.deepEqual(Array.from(result.value.bytes.subarray(0, 2)), [0x1f, 0x8b]);
});

test("decodeContent: binary that is not brotli is kept as it is", async () => {
  const noise = Uint8Array.from({ length: 256 }, (_, i) => (i * 7919) % 256);
  const result = await decodeContent(noise, undefined, MiB);
  assert.ok(result.ok);
  assert.deepEqual(result.value.notes, []);
  assert.equal(result.value.bytes, noise);
});

test("decodeContent: an undeclared gzip bomb stops at the limit", async () => {
  const bomb = gzipSync(new Uint8Array(64 * MiB), { level: 9 });
  const started = performance.now();
  const result = await decodeContent(bomb, undefined, MiB);
  assert.ok(result.ok && result.value.truncated);
  assert.equal(result.value.bytes.length, MiB);
  assert.ok(performance.now() - started < 2000);
});

test("decodeContent: an undeclared brotli bomb stops at the limit", async () => {
  const bomb = brotliCompressSync(new Uint8Array(64 * MiB));
  const result = await decodeContent(bomb, undefined, MiB);
  // Zeros are not text: the guess is dropped and the bytes stay as sent.
  assert.ok(result.ok);
  assert.deepEqual(result.value.notes, []);
});

test("decodeContent: a declared zstd cut at the limit is decoded as far as it goes", async () => {
  const letters = randomBytes(300_000).toString("base64");
  const full = zstdCompressSync(text(`{"a":"${letters}"}`));
  const result = await decodeContent(full.subarray(0, full.length >> 1), "zstd", MiB);
  assert.ok(
    result.ok && result.value.bytes.length > 1000 && result.value.bytes.length < letters.length,
  );
});
