import assert from "node:assert/strict";
import { test } from "node:test";
import { createBodyBuffer } from "./body-buffer.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test("body buffer: keeps chunks under the limit", () => {
  const buffer = createBodyBuffer(10);
  buffer.append(bytes("abc"));
  buffer.append(bytes("def"));
  assert.equal(text(buffer.bytes()), "abcdef");
  assert.equal(buffer.sizeBytes, 6);
  assert.equal(buffer.received, 6);
  assert.equal(buffer.truncated, false);
});

test("body buffer: a chunk that exactly fills is not truncation; the next one is", () => {
  const buffer = createBodyBuffer(4);
  buffer.append(bytes("abcd"));
  assert.equal(buffer.truncated, false);
  buffer.append(new Uint8Array(0));
  assert.equal(buffer.truncated, false);
  buffer.append(bytes("e"));
  assert.equal(buffer.truncated, true);
  assert.equal(text(buffer.bytes()), "abcd");
  assert.equal(buffer.received, 5);
});

test("body buffer: an overflowing chunk keeps only what fits", () => {
  const buffer = createBodyBuffer(5);
  buffer.append(bytes("abc"));
  buffer.append(bytes("defgh"));
  assert.equal(text(buffer.bytes()), "abcde");
  assert.equal(buffer.sizeBytes, 5);
  assert.equal(buffer.truncated, true);
  assert.equal(buffer.received, 8);
});

test("body buffer: a limit of 0 keeps nothing", () => {
  const buffer = createBodyBuffer(0);
  buffer.append(bytes("x"));
  assert.equal(buffer.sizeBytes, 0);
  assert.equal(buffer.bytes().byteLength, 0);
  assert.equal(buffer.truncated, true);
});

test("body buffer: copies chunks so the caller may reuse them", () => {
  const buffer = createBodyBuffer(8);
  const chunk = bytes("abcd");
  buffer.append(chunk);
  chunk.fill(0x7a);
  assert.equal(text(buffer.bytes()), "abcd");
});

test("body buffer: memory stays at the limit whatever arrives", () => {
  const buffer = createBodyBuffer(1024);
  const chunk = new Uint8Array(64 * 1024);
  for (let i = 0; i < 1000; i++) buffer.append(chunk);
  assert.equal(buffer.sizeBytes, 1024);
  assert.equal(buffer.bytes().byteLength, 1024);
  assert.equal(buffer.received, 64 * 1024 * 1000);
});

test("body buffer: bytes() is stable across calls and appends", () => {
  const buffer = createBodyBuffer(10);
  buffer.append(bytes("ab"));
  assert.equal(text(buffer.bytes()), "ab");
  buffer.append(bytes("cd"));
  assert.equal(text(buffer.bytes()), "abcd");
  assert.equal(text(buffer.bytes()), "abcd");
});

test("body buffer: a sniffed body that starts like a known binary stops at once", () => {
  const buffer = createBodyBuffer(1024, { stopOnBinary: true });
  buffer.append(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]));
  assert.equal(buffer.truncated, false, "too few bytes to tell yet");
  buffer.append(Uint8Array.from([0x1a, 0x0a, 0, 0, 0, 0x0d]));
  assert.equal(buffer.truncated, true);
  assert.equal(buffer.sizeBytes, 12);
  buffer.append(new Uint8Array(100));
  assert.equal(buffer.sizeBytes, 12, "nothing more is kept");
  assert.equal(buffer.received, 112);
});

test("body buffer: a sniffed body of text keeps going", () => {
  const buffer = createBodyBuffer(1024, { stopOnBinary: true });
  const json = bytes('{"a":"<script>alert(1)</script>"}');
  buffer.append(json);
  buffer.append(bytes("more"));
  assert.equal(buffer.truncated, false);
  assert.equal(buffer.sizeBytes, json.length + 4);
});
