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

/** Multipart shapes a backend reads and a naive reader misses (issue 14). */
test("multipart: nested multipart/mixed fields and file names", () => {
  const nested =
    '--C\r\nContent-Disposition: file; filename="a.php"\r\nContent-Type: text/plain\r\n\r\n<?php\r\n' +
    "--C\r\nContent-Disposition: attachment\r\n\r\nnote\r\n--C--";
  const body = `${part('Content-Disposition: form-data; name="files"\r\nContent-Type: multipart/mixed; boundary=C', nested)}--B--`;
  const notes = new Set<string>();
  assert.deepEqual(parseMultipart(bytes(body), "B", notes), {
    fields: { files: ["note"] },
    filenames: ["a.php"],
  });
  assert.ok(notes.has("multipart-nested"));
});

test("multipart: nesting deeper than three levels is cut", () => {
  let inner = `--L3\r\nContent-Disposition: form-data; name="deep"\r\n\r\nx\r\n--L3--`;
  for (const level of [2, 1, 0]) {
    inner = `--L${level}\r\nContent-Type: multipart/mixed; boundary=L${level + 1}\r\n\r\n${inner}\r\n--L${level}--`;
  }
  const notes = new Set<string>();
  assert.deepEqual(parseMultipart(bytes(inner), "L0", notes).fields, {});
  assert.ok(notes.has("depth-truncated"));
});

const transfers: Array<[string, string, string]> = [
  ["base64", "base64", "PHNjcmlwdD4="],
  ["base64 over lines", "BASE64", "PHNj\r\ncmlw\r\ndD4="],
  ["quoted-printable", "quoted-printable", "=3Cscript=3E"],
  ["quoted-printable soft break", "Quoted-Printable", "<scr=\r\nipt>"],
  ["identity", "8bit", "<script>"],
];

for (const [name, encoding, encoded] of transfers) {
  test(`multipart: part Content-Transfer-Encoding ${name}`, () => {
    const headers = `Content-Disposition: form-data; name="q"\r\nContent-Transfer-Encoding: ${encoding}`;
    const body = `${part(headers, encoded)}--B--`;
    assert.deepEqual(parseMultipart(bytes(body), "B", new Set()).fields, { q: ["<script>"] });
  });
}

test("multipart: a malformed quoted-printable escape stays as written", () => {
  const headers =
    'Content-Disposition: form-data; name="q"\r\nContent-Transfer-Encoding: quoted-printable';
  const body = `${part(headers, "a=ZZb=4")}--B--`;
  assert.deepEqual(parseMultipart(bytes(body), "B", new Set()).fields, { q: ["a=ZZb=4"] });
});

test("multipart: part charset UTF-16 and Latin-1 are honoured", () => {
  const utf16 = Buffer.concat([
    Buffer.from(
      '--B\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: text/plain; charset="UTF-16LE"\r\n\r\n',
    ),
    Buffer.from("<script>", "utf16le"),
    Buffer.from(
      '\r\n--B\r\nContent-Disposition: form-data; name="b"\r\nContent-Type: text/plain;charset = iso-8859-1\r\n\r\n',
    ),
    Buffer.from("caf\xe9", "latin1"),
    Buffer.from("\r\n--B--"),
  ]);
  assert.deepEqual(parseMultipart(utf16, "B", new Set()).fields, { a: ["<script>"], b: ["café"] });
});

test("multipart: a _charset_ field sets the charset of the fields after it", () => {
  const body = Buffer.concat([
    Buffer.from(part('Content-Disposition: form-data; name="_charset_"', "ibm037")),
    Buffer.from('--B\r\nContent-Disposition: form-data; name="q"\r\n\r\n'),
    Buffer.from("4ca283998997a36e", "hex"), // "<script>" in IBM037
    Buffer.from("\r\n--B--"),
  ]);
  assert.deepEqual(parseMultipart(body, "B", new Set()).fields.q, ["<script>"]);
});

test("multipart: a JSON part is parsed, an XML part too", () => {
  const body =
    part(
      'Content-Disposition: form-data; name="meta"\r\nContent-Type: application/json',
      '{"q":"x","q":"y"}',
    ) +
    part('Content-Disposition: form-data; name="doc"\r\nContent-Type: text/xml', "<r>z</r>") +
    "--B--";
  assert.deepEqual(parseMultipart(bytes(body), "B", new Set()).fields, {
    meta: [{ q: ["x", "y"] }],
    doc: [{ children: ["z"] }],
  });
});

test("multipart: folded headers, spaces before the colon, RFC 2231 file name sections", () => {
  const headers =
    'Content-Disposition : form-data;\r\n\tname="up";\r\n filename*0="a."; filename*1="php"';
  const body = `${part(headers, "x")}--B--`;
  assert.deepEqual(parseMultipart(bytes(body), "B", new Set()), {
    fields: {},
    filenames: ["a.php"],
  });
});

test("multipart: every name of a part gets its value (first-wins and last-wins backends)", () => {
  const headers =
    'Content-Disposition: form-data; name="a"; name="b"\r\nContent-Disposition: form-data; name="c"';
  const body = `${part(headers, "v")}--B--`;
  assert.deepEqual(parseMultipart(bytes(body), "B", new Set()).fields, {
    a: ["v"],
    b: ["v"],
    c: ["v"],
  });
});

test("multipart: binary content in a field part is not a value", () => {
  const body = `${part('Content-Disposition: form-data; name="img"\r\nContent-Type: image/png', "\x89PNG\r\n\x1a\n")}--B--`;
  assert.deepEqual(parseMultipart(Buffer.from(body, "latin1"), "B", new Set()).fields, {});
});

test("multipart: an unnamed JSON part (multipart/related's document) gives its keys as fields", () => {
  const body = `${part("Content-Type: application/json; charset=utf-8", '{"payload":"x","n":[1]}')}${part("Content-Type: image/png", "\x89PNG")}--B--`;
  assert.deepEqual(parseMultipart(Buffer.from(body, "latin1"), "B", new Set()).fields, {
    payload: ["x"],
    n: [[1]],
  });
});
