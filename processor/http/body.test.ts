import assert from "node:assert/strict";
import { test } from "node:test";
import {
  brotliCompressSync,
  deflateRawSync,
  deflateSync,
  gzipSync,
  zstdCompressSync,
} from "node:zlib";
import { type ParseBodyOptions, parseBody } from "./body.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const MiB = 1024 * 1024;

function options(contentType: string | undefined, extra: Partial<ParseBodyOptions> = {}) {
  const base: ParseBodyOptions = { truncated: false, limitBytes: MiB };
  return { ...base, ...(contentType === undefined ? {} : { contentType }), ...extra };
}

test("body: JSON", async () => {
  assert.deepEqual(await parseBody(bytes('{"a":[1,"<x>"]}'), options("application/json")), {
    ok: true,
    value: { content: { a: [1, "<x>"] }, notes: [] },
  });
});

test("body: truncated JSON is repaired", async () => {
  const result = await parseBody(
    bytes('{"a":"1","b":"<scr'),
    options("application/vnd.api+json", { truncated: true }),
  );
  assert.deepEqual(result, {
    ok: true,
    value: { content: { a: "1", b: "<scr" }, notes: ["body-truncated", "json-repaired"] },
  });
});

test("body: broken non-truncated JSON is read leniently and passed as text too", async () => {
  const result = await parseBody(bytes('{"a": <script>}'), options("application/json"));
  assert.deepEqual(result, {
    ok: true,
    value: { content: { a: "<script>", "": '{"a": <script>}' }, notes: ["json-malformed"] },
  });
});

test("body: text that is not JSON at all is passed as text", async () => {
  const result = await parseBody(bytes("hello there"), options("application/json"));
  assert.deepEqual(result, {
    ok: true,
    value: { content: "hello there", notes: ["json-malformed-as-text"] },
  });
});

test("body: urlencoded form", async () => {
  const result = await parseBody(
    bytes("a=1&a=2&q=%3Cscript%3E+x"),
    options("application/x-www-form-urlencoded"),
  );
  assert.deepEqual(result, {
    ok: true,
    value: { content: { a: ["1", "2"], q: ["<script> x"] }, notes: [] },
  });
});

test("body: truncated urlencoded form keeps the partial last pair", async () => {
  const result = await parseBody(
    bytes("a=1&b=%3Cscr"),
    options("application/x-www-form-urlencoded", { truncated: true }),
  );
  assert.ok(result.ok);
  assert.deepEqual(result.value.content, { a: ["1"], b: ["<scr"] });
});

test("body: multipart fields and filenames", async () => {
  const body =
    '--X\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--X\r\nContent-Disposition: form-data; name="u"; filename="a.txt"\r\n\r\nDATA\r\n--X--\r\n';
  const result = await parseBody(bytes(body), options('multipart/form-data; boundary="X"'));
  assert.deepEqual(result, {
    ok: true,
    value: { content: { f: ["v"] }, notes: [], filenames: ["a.txt"] },
  });
});

test("body: multipart without boundary is skipped", async () => {
  const result = await parseBody(bytes("--X\r\n"), options("multipart/form-data"));
  assert.deepEqual(result, { ok: false, error: "multipart-no-boundary" });
});

test("body: XML", async () => {
  const result = await parseBody(bytes('<r id="&lt;x&gt;"><q>1</q></r>'), options("text/xml"));
  assert.deepEqual(result, {
    ok: true,
    value: { content: { attributes: { id: "<x>" }, children: [{ children: ["1"] }] }, notes: [] },
  });
});

test("body: XML with nothing inspectable", async () => {
  assert.deepEqual(await parseBody(bytes("<!-- x -->"), options("application/xml")), {
    ok: false,
    error: "no-content",
  });
});

test("body: text/plain", async () => {
  assert.deepEqual(await parseBody(bytes("hello <b>"), options("text/plain; charset=utf-8")), {
    ok: true,
    value: { content: "hello <b>", notes: [] },
  });
});

test("body: unsupported and missing content types", async () => {
  for (const type of ["image/png", "application/octet-stream", undefined, "text/html"]) {
    assert.deepEqual(await parseBody(bytes("x"), options(type)), {
      ok: false,
      error: "unsupported-content-type",
    });
  }
});

test("body: empty body", async () => {
  assert.deepEqual(await parseBody(new Uint8Array(0), options("application/json")), {
    ok: false,
    error: "empty-body",
  });
});

const json = '{"a":"<script>"}';
const encoders: Array<[string, (b: Uint8Array) => Uint8Array]> = [
  ["gzip", gzipSync],
  ["x-gzip", gzipSync],
  ["deflate", deflateSync],
  ["br", brotliCompressSync],
  ["zstd", zstdCompressSync],
];

for (const [encoding, encode] of encoders) {
  test(`body: Content-Encoding ${encoding}`, async () => {
    const result = await parseBody(
      encode(bytes(json)),
      options("application/json", { contentEncoding: encoding }),
    );
    assert.deepEqual(result, {
      ok: true,
      value: { content: { a: "<script>" }, notes: ["decoded"] },
    });
  });
}

test("body: raw deflate sent as deflate", async () => {
  const result = await parseBody(
    deflateRawSync(bytes(json)),
    options("application/json", { contentEncoding: "Deflate" }),
  );
  assert.ok(result.ok);
  assert.deepEqual(result.value.content, { a: "<script>" });
});

test("body: identity and stacked encodings", async () => {
  const stacked = brotliCompressSync(gzipSync(bytes(json)));
  const result = await parseBody(
    stacked,
    options("application/json", { contentEncoding: "identity, gzip, br" }),
  );
  assert.ok(result.ok);
  assert.deepEqual(result.value.content, { a: "<script>" });
});

test("body: an unknown coding on binary bytes is skipped", async () => {
  const binary = new Uint8Array([0x1f, 0x9d, 0x90, 0x7b, 0x00, 0x01, 0x02, 0x03]);
  for (const encoding of ["compress", "gzip, foo", "gzip, gzip, gzip, gzip"]) {
    assert.deepEqual(
      await parseBody(binary, options("application/json", { contentEncoding: encoding })),
      { ok: false, error: "unsupported-encoding" },
    );
  }
});

test("body: a declared coding the text does not carry is ignored, as backends that ignore it do", async () => {
  for (const encoding of ["gzip", "compress", "foo", "deflate, br"]) {
    const result = await parseBody(
      bytes(json),
      options("application/json", { contentEncoding: encoding }),
    );
    assert.deepEqual(result, {
      ok: true,
      value: { content: { a: "<script>" }, notes: ["coding-ignored"] },
    });
  }
});

test("body: corrupt gzip is decompression-failed", async () => {
  const corrupt = new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00, 0x01, 0x02]);
  const result = await parseBody(corrupt, options("application/json", { contentEncoding: "gzip" }));
  assert.deepEqual(result, { ok: false, error: "decompression-failed" });
});

test("body: gzip cut at the limit is decoded as far as it goes", async () => {
  const full = gzipSync(bytes(`{"a":"${"x".repeat(20_000)}<script>","b":1}`), { level: 0 });
  const cut = full.subarray(0, 10_000);
  const result = await parseBody(
    cut,
    options("application/json", { contentEncoding: "gzip", truncated: true }),
  );
  assert.ok(result.ok);
  assert.ok(result.value.notes.includes("json-repaired"));
  assert.equal((result.value.content as { a: string }).a.length, 4096);
});

test("body: decompression bomb (1 GiB of zeros) stops at the limit, fast", async () => {
  // Concatenated gzip members decode as one stream: 64 × 16 MiB = 1 GiB without compressing 1 GiB.
  const member = gzipSync(new Uint8Array(16 * MiB), { level: 9 });
  const bomb = Buffer.concat(Array.from({ length: 64 }, () => member));
  const started = performance.now();
  const result = await parseBody(
    bomb,
    options("text/plain", { contentEncoding: "gzip", limitBytes: MiB }),
  );
  const elapsed = performance.now() - started;
  assert.ok(result.ok);
  assert.ok(result.value.notes.includes("body-truncated"));
  assert.ok(elapsed < 1000, `took ${elapsed} ms`);
});

test("body: brotli bomb stops at the limit", async () => {
  const bomb = brotliCompressSync(new Uint8Array(64 * MiB));
  const result = await parseBody(
    bomb,
    options("text/plain", { contentEncoding: "br", limitBytes: MiB }),
  );
  assert.ok(result.ok);
  assert.ok(result.value.notes.includes("body-truncated"));
});

test("body malformed: invalid UTF-8 is decoded with replacement characters", async () => {
  const body = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xc3, 0x22, 0x7d]);
  const result = await parseBody(body, options("application/json"));
  assert.deepEqual(result, { ok: true, value: { content: { a: "\uFFFD\uFFFD" }, notes: [] } });
});

test("body malformed: 10,000-deep JSON nesting", async () => {
  const result = await parseBody(
    bytes(`${"[".repeat(10_000)}${"]".repeat(10_000)}`),
    options("application/json"),
  );
  assert.ok(result.ok && result.value.notes.includes("depth-truncated"));
});

test("body malformed: million-element JSON array", async () => {
  const result = await parseBody(
    bytes(`[${"0,".repeat(1_000_000)}0]`),
    options("application/json", { limitBytes: 4 * MiB }),
  );
  assert.ok(result.ok && (result.value.content as unknown[]).length === 256);
});

test("body malformed: 10 MB single-line text", async () => {
  const result = await parseBody(
    new Uint8Array(10 * MiB).fill(0x61),
    options("text/plain", { limitBytes: 10 * MiB }),
  );
  assert.ok(result.ok && (result.value.content as string).length === 4096);
  assert.ok(result.ok && result.value.notes.includes("string-truncated"));
});

test("body malformed: multipart without closing boundary", async () => {
  const body = '--X\r\nContent-Disposition: form-data; name="f"\r\n\r\n<script>';
  const result = await parseBody(bytes(body), options("multipart/form-data; boundary=X"));
  assert.deepEqual(result, {
    ok: true,
    value: { content: { f: ["<script>"] }, notes: ["multipart-unterminated"], filenames: [] },
  });
});

test("body malformed: million-pair form keeps 256 keys", async () => {
  const body = Array.from({ length: 1_000_000 }, (_, i) => `k${i}=v`).join("&");
  const result = await parseBody(
    bytes(body),
    options("application/x-www-form-urlencoded", { limitBytes: 16 * MiB }),
  );
  assert.ok(result.ok && Object.keys(result.value.content as object).length === 256);
});

test("body malformed: XML that is not XML", async () => {
  const result = await parseBody(bytes("just <text & <<< >>>"), options("application/xml"));
  assert.ok(result.ok);
});

/** The strings anywhere in a parsed value: what a WAF rule without a key path matches. */
function stringsOf(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const item of value) stringsOf(item, out);
  else if (value !== null && typeof value === "object") {
    for (const item of Object.values(value)) stringsOf(item, out);
  }
  return out;
}

const utf16le = (s: string) => Uint8Array.from(Buffer.from(s, "utf16le"));
const utf16be = (s: string) => Uint8Array.from(Buffer.from(s, "utf16le").swap16());
const withBom = (bom: number[], body: Uint8Array) => Uint8Array.from([...bom, ...body]);
const PAYLOAD = "$globals";
const multipartOf = (boundary: string, headers: string, value: string) =>
  bytes(`--${boundary}\r\n${headers}\r\n\r\n${value}\r\n--${boundary}--\r\n`);

/**
 * Issue 14: each shape hides PAYLOAD from a reader that takes the body one way while a backend
 * takes it another. parseBody must put PAYLOAD (as a whole string) in front of the WAF.
 */
const evasions: Array<[string, Uint8Array, string | undefined, string?]> = [
  ["JSON duplicate key, payload first", bytes(`{"q":"${PAYLOAD}","q":"x"}`), "application/json"],
  ["JSON trailing document", bytes(`{"a":1}\n{"q":"${PAYLOAD}"}`), "application/json"],
  ["JSON trailing garbage", bytes(`{"a":1}garbage"${PAYLOAD}"`), "application/json"],
  ["JSON stray brackets", bytes(`]]{"q":"${PAYLOAD}"}}`), "application/json"],
  ["JSON comment before the value", bytes(`{"q": /*x*/ "${PAYLOAD}"}`), "application/json"],
  [
    "quoted boundary with ';' ',' and an escaped quote",
    multipartOf('a;b,"c', 'Content-Disposition: form-data; name="q"', PAYLOAD),
    'multipart/form-data; BOUNDARY = "a;b,\\"c"',
  ],
  [
    "boundary in RFC 2231 sections",
    multipartOf("xy", 'Content-Disposition: form-data; name="q"', PAYLOAD),
    "multipart/form-data; boundary*0=x; boundary*1=y",
  ],
  [
    "second boundary parameter wins for the backend",
    multipartOf("real", 'Content-Disposition: form-data; name="q"', PAYLOAD),
    "multipart/form-data; boundary=decoy; boundary=real",
  ],
  [
    "Content-Type on two lines (joined)",
    bytes(`{"q":"${PAYLOAD}"}`),
    "text/html, application/json",
  ],
  [
    "Content-Encoding gzip on two lines",
    gzipSync(gzipSync(bytes(`{"q":"${PAYLOAD}"}`))),
    "application/json",
    "gzip, gzip",
  ],
  ["gzip declared identity", gzipSync(bytes(`{"q":"${PAYLOAD}"}`)), "application/json", "identity"],
  ["gzip undeclared", gzipSync(bytes(`{"q":"${PAYLOAD}"}`)), "application/json"],
  ["zlib undeclared", deflateSync(bytes(`{"q":"${PAYLOAD}"}`)), "application/json"],
  ["brotli undeclared", brotliCompressSync(bytes(`{"q":"${PAYLOAD}"}`)), "application/json"],
  ["zstd undeclared", zstdCompressSync(bytes(`{"q":"${PAYLOAD}"}`)), "application/json"],
  ["gzip declared, sent plain", bytes(`{"q":"${PAYLOAD}"}`), "application/json", "gzip"],
  ["no content type, JSON bytes", bytes(`{"q":"${PAYLOAD}"}`), undefined],
  ["octet-stream, JSON bytes", bytes(`{"q":"${PAYLOAD}"}`), "application/octet-stream"],
  ["octet-stream, form bytes", bytes("a=1&q=%24globals"), "application/octet-stream"],
  ["no content type, XML bytes", bytes(`<r><q>${PAYLOAD}</q></r>`), undefined],
  ["malformed content type, JSON bytes", bytes(`{"q":"${PAYLOAD}"}`), "json"],
  ["no content type, gzip of JSON", gzipSync(bytes(`{"q":"${PAYLOAD}"}`)), undefined],
  [
    "text/plain holding JSON",
    bytes(`{"pad":"${"x".repeat(20_000)}","q":"${PAYLOAD}"}`),
    "text/plain",
  ],
  ["form holding JSON", bytes(`{"q":"${PAYLOAD}"}`), "application/x-www-form-urlencoded"],
  ["JSON holding a form", bytes("a=1&q=%24globals"), "application/json"],
  [
    "JSON in UTF-16LE with BOM",
    withBom([0xff, 0xfe], utf16le(`{"q":"${PAYLOAD}"}`)),
    "application/json; charset=utf-16",
  ],
  [
    "JSON in UTF-16BE without BOM",
    utf16be(`{"q":"${PAYLOAD}"}`),
    "application/json; charset=utf-16",
  ],
  ["JSON in UTF-16LE, undeclared", utf16le(`{"q":"${PAYLOAD}"}`), "application/json"],
  [
    "JSON in UTF-16LE, declared UTF-8",
    utf16le(`{"q":"${PAYLOAD}"}`),
    "application/json; charset=utf-8",
  ],
  [
    "JSON in Latin-1",
    Buffer.from(`{"q":"${PAYLOAD}","n":"caf\xe9"}`, "latin1"),
    "application/json; charset=ISO-8859-1",
  ],
  [
    "form in UTF-16LE",
    utf16le("a=1&q=%24globals"),
    "application/x-www-form-urlencoded; charset=utf-16le",
  ],
  [
    "form in Latin-1",
    Buffer.from("n=caf%E9&q=%24globals", "latin1"),
    "application/x-www-form-urlencoded; charset=latin1",
  ],
  [
    "form in IBM037",
    Buffer.from("98 7e 5b 87 93 96 82 81 93 a2".replace(/ /g, ""), "hex"),
    "application/x-www-form-urlencoded; charset=ibm037",
  ],
  ["form in UTF-7", bytes("q=+ACQ-globals"), "application/x-www-form-urlencoded; charset=utf-7"],
  [
    "XML declaring UTF-16",
    withBom([0xff, 0xfe], utf16le(`<?xml version="1.0" encoding="UTF-16"?><q>${PAYLOAD}</q>`)),
    "application/xml",
  ],
  [
    "multipart base64 field",
    multipartOf(
      "B",
      'Content-Disposition: form-data; name="q"\r\nContent-Transfer-Encoding: base64',
      "JGdsb2JhbHM=",
    ),
    "multipart/form-data; boundary=B",
  ],
  [
    "multipart quoted-printable field",
    multipartOf(
      "B",
      'Content-Disposition: form-data; name="q"\r\nContent-Transfer-Encoding: quoted-printable',
      "=24glob=\r\nals",
    ),
    "multipart/form-data; boundary=B",
  ],
  [
    "multipart/mixed nested in a form field",
    multipartOf(
      "B",
      'Content-Disposition: form-data; name="f"\r\nContent-Type: multipart/mixed; boundary=C',
      `--C\r\nContent-Type: text/plain\r\n\r\n${PAYLOAD}\r\n--C--`,
    ),
    "multipart/form-data; boundary=B",
  ],
];

for (const [name, body, contentType, contentEncoding] of evasions) {
  test(`body evasion: ${name}`, async () => {
    const result = await parseBody(
      body,
      options(contentType, contentEncoding ? { contentEncoding } : {}),
    );
    assert.ok(result.ok, JSON.stringify(result));
    const strings = stringsOf(result.value.content);
    assert.ok(
      strings.includes(PAYLOAD),
      `${JSON.stringify(result.value.content)} lacks ${PAYLOAD}`,
    );
  });
}

test("body evasion: a file name hidden in a nested multipart part", async () => {
  const body = multipartOf(
    "B",
    'Content-Disposition: form-data; name="f"\r\nContent-Type: multipart/mixed; boundary=C',
    '--C\r\nContent-Disposition: file; filename="evil.php"\r\n\r\n<?php\r\n--C--',
  );
  const result = await parseBody(body, options("multipart/form-data; boundary=B"));
  assert.ok(result.ok);
  assert.deepEqual(result.value.filenames, ["evil.php"]);
});

/**
 * Benign twins: uploads whose type says nothing must not be parsed (no false positives on
 * binaries), and clean bodies are read once, as before.
 */
const uploads: Array<[string, Uint8Array]> = [
  [
    "PNG",
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...bytes('{"q":"$globals"}')]),
  ],
  ["ZIP", Uint8Array.from([0x50, 0x4b, 0x03, 0x04, ...bytes("a=$globals")])],
  ["PDF", bytes("%PDF-1.7\n<< /q ($globals) >>")],
  ["random bytes", Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)],
  ["SVG image", bytes('<svg xmlns="http://www.w3.org/2000/svg"><text>$globals</text></svg>')],
  ["HTML page", bytes("<!DOCTYPE html><p>$globals</p>")],
  ["plain prose", bytes("notes about $globals in PHP")],
  ["CSV", bytes("name,value\n$globals,1\n")],
  [
    "gzip of a PNG",
    gzipSync(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2])),
  ],
];

for (const [name, body] of uploads) {
  for (const contentType of [undefined, "application/octet-stream"]) {
    test(`body benign: ${name} uploaded as ${contentType ?? "no type"} is not parsed`, async () => {
      const result = await parseBody(body, options(contentType));
      assert.deepEqual(result, { ok: false, error: "unsupported-content-type" });
    });
  }
}

test("body benign: a declared image is never sniffed, even when it holds JSON", async () => {
  const result = await parseBody(bytes('{"q":"$globals"}'), options("image/png"));
  assert.deepEqual(result, { ok: false, error: "unsupported-content-type" });
});

test("body benign: clean JSON, form and XML have one reading and no notes", async () => {
  const cases: Array<[string, string, unknown]> = [
    ["application/json", '{"a":"b","url":"http://x:1/"}', { a: "b", url: "http://x:1/" }],
    ["application/x-www-form-urlencoded", "a=1&b=%3C", { a: ["1"], b: ["<"] }],
    ["application/xml", "<r>1</r>", { children: ["1"] }],
    ["text/plain", "just text", "just text"],
  ];
  for (const [contentType, body, value] of cases) {
    assert.deepEqual(await parseBody(bytes(body), options(contentType)), {
      ok: true,
      value: { content: value, notes: [] },
    });
  }
});
