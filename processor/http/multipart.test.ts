import assert from "node:assert/strict";
import { test } from "node:test";
import { parseMultipart } from "./multipart.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

function part(headers: string, body: string): string {
  return `--B\r\n${headers}\r\n\r\n${body}\r\n`;
}

test("multipart: fields and file names", () => {
  const body =
    "preamble\r\n" +
    part('Content-Disposition: form-data; name="a"', "1") +
    part('Content-Disposition: form-data; name="a"', "2") +
    part(
      'Content-Disposition: form-data; name="up"; filename="x.php"\r\nContent-Type: image/png',
      "\x89PNG",
    ) +
    "--B--\r\nepilogue";
  const notes = new Set<string>();
  assert.deepEqual(parseMultipart(bytes(body), "B", notes), {
    fields: { a: ["1", "2"] },
    filenames: ["x.php"],
  });
  assert.deepEqual([...notes], []);
});

test("multipart: LF-only line breaks are accepted", () => {
  const body = '--B\nContent-Disposition: form-data; name="a"\n\nv\n--B--\n';
  assert.deepEqual(parseMultipart(bytes(body), "B", new Set()).fields, { a: ["v"] });
});

test("multipart: an empty filename is a field, as Go's multipart reader takes it", () => {
  const body = `${part('Content-Disposition: form-data; name="f"; filename=""', "v")}--B--`;
  assert.deepEqual(parseMultipart(bytes(body), "B", new Set()), {
    fields: { f: ["v"] },
    filenames: [],
  });
});

test("multipart: filename and RFC 5987 filename* are both file names", () => {
  const header = `Content-Disposition: form-data; name="f"; filename="a.txt"; filename*=UTF-8''na%C3%AFve.txt`;
  assert.deepEqual(parseMultipart(bytes(`${part(header, "x")}--B--`), "B", new Set()).filenames, [
    "a.txt",
    "naïve.txt",
  ]);
});

test("multipart: quoted name with escapes and a field value containing CRLF", () => {
  const body = `${part('Content-Disposition: form-data; name="a\\"b"', "l1\r\nl2")}--B--`;
  assert.deepEqual(parseMultipart(bytes(body), "B", new Set()).fields, { 'a"b': ["l1\r\nl2"] });
});

test("multipart: missing closing boundary keeps what was read", () => {
  const notes = new Set<string>();
  const body = `${part('Content-Disposition: form-data; name="a"', "1")}--B\r\nContent-Disposition: form-data; name="b"\r\n\r\npart`;
  assert.deepEqual(parseMultipart(bytes(body), "B", notes).fields, { a: ["1"], b: ["part"] });
  assert.ok(notes.has("multipart-unterminated"));
});

test("multipart: part headers cut by the end of the body", () => {
  const notes = new Set<string>();
  const body = '--B\r\nContent-Disposition: form-data; name="a"';
  assert.deepEqual(parseMultipart(bytes(body), "B", notes).fields, {});
  assert.ok(notes.has("multipart-unterminated"));
});

test("multipart: boundary never found", () => {
  const notes = new Set<string>();
  assert.deepEqual(parseMultipart(bytes("no parts here"), "B", notes), {
    fields: {},
    filenames: [],
  });
  assert.ok(notes.has("multipart-no-part"));
});

test("multipart: part without name is kept under the empty name", () => {
  const body = `${part("Content-Disposition: form-data", "v")}--B--`;
  assert.deepEqual(parseMultipart(bytes(body), "B", new Set()).fields, { "": ["v"] });
});

test("multipart: more than 256 parts are capped", () => {
  const notes = new Set<string>();
  const body = `${part('Content-Disposition: form-data; name="a"', "1").repeat(300)}--B--`;
  assert.equal(parseMultipart(bytes(body), "B", notes).fields.a?.length, 256);
  assert.ok(notes.has("container-truncated"));
});

test("multipart: a large field value is cut to 4096 characters", () => {
  const notes = new Set<string>();
  const body = `${part('Content-Disposition: form-data; name="a"', "x".repeat(1_000_000))}--B--`;
  const value = parseMultipart(bytes(body), "B", notes).fields.a?.[0];
  assert.equal(typeof value === "string" ? value.length : 0, 4096);
  assert.ok(notes.has("string-truncated"));
});

test("multipart: invalid UTF-8 in a field becomes U+FFFD", () => {
  const head = bytes('--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n');
  const tail = bytes("\r\n--B--");
  const body = new Uint8Array([...head, 0x61, 0xff, 0x62, ...tail]);
  assert.deepEqual(parseMultipart(body, "B", new Set()).fields, { a: ["a\uFFFDb"] });
});
