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
  const base: ParseBodyOptions = { truncated: false, limit: MiB };
  return { ...base, ...(contentType === undefined ? {} : { contentType }), ...extra };
}

test("body: JSON", async () => {
  assert.deepEqual(await parseBody(bytes('{"a":[1,"<x>"]}'), options("application/json")), {
    ok: true,
    value: { a: [1, "<x>"] },
    notes: [],
  });
});

test("body: truncated JSON is repaired", async () => {
  const result = await parseBody(
    bytes('{"a":"1","b":"<scr'),
    options("application/vnd.api+json", { truncated: true }),
  );
  assert.deepEqual(result, {
    ok: true,
    value: { a: "1", b: "<scr" },
    notes: ["body-truncated", "json-repaired"],
  });
});

test("body: broken non-truncated JSON is read leniently and passed as text too", async () => {
  const result = await parseBody(bytes('{"a": <script>}'), options("application/json"));
  assert.deepEqual(result, {
    ok: true,
    value: [{ a: "<script>" }, '{"a": <script>}'],
    notes: ["json-malformed"],
  });
});

test("body: text that is not JSON at all is passed as text", async () => {
  const result = await parseBody(bytes("hello there"), options("application/json"));
  assert.deepEqual(result, { ok: true, value: "hello there", notes: ["json-malformed-as-text"] });
});

test("body: urlencoded form", async () => {
  const result = await parseBody(
    bytes("a=1&a=2&q=%3Cscript%3E+x"),
    options("application/x-www-form-urlencoded"),
  );
  assert.deepEqual(result, { ok: true, value: { a: ["1", "2"], q: ["<script> x"] }, notes: [] });
});

test("body: truncated urlencoded form keeps the partial last pair", async () => {
  const result = await parseBody(
    bytes("a=1&b=%3Cscr"),
    options("application/x-www-form-urlencoded", { truncated: true }),
  );
  assert.ok(result.ok);
  assert.deepEqual(result.value, { a: ["1"], b: ["<scr"] });
});

test("body: multipart fields and filenames", async () => {
  const body =
    '--X\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--X\r\nContent-Disposition: form-data; name="u"; filename="a.txt"\r\n\r\nDATA\r\n--X--\r\n';
  const result = await parseBody(bytes(body), options('multipart/form-data; boundary="X"'));
  assert.deepEqual(result, { ok: true, value: { f: ["v"] }, notes: [], filenames: ["a.txt"] });
});

test("body: multipart without boundary is skipped", async () => {
  const result = await parseBody(bytes("--X\r\n"), options("multipart/form-data"));
  assert.deepEqual(result, { ok: false, reason: "multipart-no-boundary" });
});

test("body: XML", async () => {
  const result = await parseBody(bytes('<r id="&lt;x&gt;"><q>1</q></r>'), options("text/xml"));
  assert.deepEqual(result, {
    ok: true,
    value: { attributes: { id: "<x>" }, children: [{ children: ["1"] }] },
    notes: [],
  });
});

test("body: XML with nothing inspectable", async () => {
  assert.deepEqual(await parseBody(bytes("<!-- x -->"), options("application/xml")), {
    ok: false,
    reason: "no-content",
  });
});

test("body: text/plain", async () => {
  assert.deepEqual(await parseBody(bytes("hello <b>"), options("text/plain; charset=utf-8")), {
    ok: true,
    value: "hello <b>",
    notes: [],
  });
});

test("body: unsupported and missing content types", async () => {
  for (const type of ["image/png", "application/octet-stream", undefined, "text/html"]) {
    assert.deepEqual(await parseBody(bytes("x"), options(type)), {
      ok: false,
      reason: "unsupported-content-type",
    });
  }
});

test("body: empty body", async () => {
  assert.deepEqual(await parseBody(new Uint8Array(0), options("application/json")), {
    ok: false,
    reason: "empty-body",
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
    assert.deepEqual(result, { ok: true, value: { a: "<script>" }, notes: ["decoded"] });
  });
}

test("body: raw deflate sent as deflate", async () => {
  const result = await parseBody(
    deflateRawSync(bytes(json)),
    options("application/json", { contentEncoding: "Deflate" }),
  );
  assert.ok(result.ok);
  assert.deepEqual(result.value, { a: "<script>" });
});

test("body: identity and stacked encodings", async () => {
  const stacked = brotliCompressSync(gzipSync(bytes(json)));
  const result = await parseBody(
    stacked,
    options("application/json", { contentEncoding: "identity, gzip, br" }),
  );
  assert.ok(result.ok);
  assert.deepEqual(result.value, { a: "<script>" });
});

test("body: an unknown coding on binary bytes is skipped", async () => {
  const binary = new Uint8Array([0x1f, 0x9d, 0x90, 0x7b, 0x00, 0x01, 0x02, 0x03]);
  for (const encoding of ["compress", "gzip, foo", "gzip, gzip, gzip, gzip"]) {
    assert.deepEqual(
      await parseBody(binary, options("application/json", { contentEncoding: encoding })),
      { ok: false, reason: "unsupported-encoding" },
    );
  }
});

test("body: a declared coding the text does not carry is ignored, as backends that ignore it do", async () => {
  for (const encoding of ["gzip", "compress", "foo", "deflate, br"]) {
    const result = await parseBody(
      bytes(json),
      options("application/json", { contentEncoding: encoding }),
    );
    assert.deepEqual(result, { ok: true, value: { a: "<script>" }, notes: ["coding-ignored"] });
  }
});

test("body: corrupt gzip is decompression-failed", async () => {
  const corrupt = new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00, 0x01, 0x02]);
  const result = await parseBody(corrupt, options("application/json", { contentEncoding: "gzip" }));
  assert.deepEqual(result, { ok: false, reason: "decompression-failed" });
});

test("body: gzip cut at the limit is decoded as far as it goes", async () => {
  const full = gzipSync(bytes(`{"a":"${"x".repeat(20_000)}<script>","b":1}`), { level: 0 });
  const cut = full.subarray(0, 10_000);
  const result = await parseBody(
    cut,
    options("application/json", { contentEncoding: "gzip", truncated: true }),
  );
  assert.ok(result.ok);
  assert.ok(result.notes.includes("json-repaired"));
  assert.equal((result.value as { a: string }).a.length, 4096);
});

test("body: decompression bomb (1 GiB of zeros) stops at the limit, fast", async () => {
  // Concatenated gzip members decode as one stream: 64 × 16 MiB = 1 GiB without compressing 1 GiB.
  const member = gzipSync(new Uint8Array(16 * MiB), { level: 9 });
  const bomb = Buffer.concat(Array.from({ length: 64 }, () => member));
  const started = performance.now();
  const result = await parseBody(
    bomb,
    options("text/plain", { contentEncoding: "gzip", limit: MiB }),
  );
  const elapsed = performance.now() - started;
  assert.ok(result.ok);
  assert.ok(result.notes.includes("body-truncated"));
  assert.ok(elapsed < 1000, `took ${elapsed} ms`);
});

test("body: brotli bomb stops at the limit", async () => {
  const bomb = brotliCompressSync(new Uint8Array(64 * MiB));
  const result = await parseBody(
    bomb,
    options("text/plain", { contentEncoding: "br", limit: MiB }),
  );
  assert.ok(result.ok);
  assert.ok(result.notes.includes("body-truncated"));
});

test("body malformed: invalid UTF-8 is decoded with replacement characters", async () => {
  const body = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xc3, 0x22, 0x7d]);
  const result = await parseBody(body, options("application/json"));
  assert.deepEqual(result, { ok: true, value: { a: "\uFFFD\uFFFD" }, notes: [] });
});

test("body malformed: 10,000-deep JSON nesting", async () => {
  const result = await parseBody(
    bytes(`${"[".repeat(10_000)}${"]".repeat(10_000)}`),
    options("application/json"),
  );
  assert.ok(result.ok && result.notes.includes("depth-truncated"));
});

test("body malformed: million-element JSON array", async () => {
  const result = await parseBody(
    bytes(`[${"0,".repeat(1_000_000)}0]`),
    options("application/json", { limit: 4 * MiB }),
  );
  assert.ok(result.ok && (result.value as unknown[]).length === 256);
});

test("body malformed: 10 MB single-line text", async () => {
  const result = await parseBody(
    new Uint8Array(10 * MiB).fill(0x61),
    options("text/plain", { limit: 10 * MiB }),
  );
  assert.ok(result.ok && (result.value as string).length === 4096);
  assert.ok(result.ok && result.notes.includes("string-truncated"));
});

test("body malformed: multipart without closing boundary", async () => {
  const body = '--X\r\nContent-Disposition: form-data; name="f"\r\n\r\n<script>';
  const result = await parseBody(bytes(body), options("multipart/form-data; boundary=X"));
  assert.deepEqual(result, {
    ok: true,
    value: { f: ["<script>"] },
    notes: ["multipart-unterminated"],
    filenames: [],
  });
});

test("body malformed: million-pair form keeps 256 keys", async () => {
  const body = Array.from({ length: 1_000_000 }, (_, i) => `k${i}=v`).join("&");
  const result = await parseBody(
    bytes(body),
    options("application/x-www-form-urlencoded", { limit: 16 * MiB }),
  );
  assert.ok(result.ok && Object.keys(result.value as object).length === 256);
});

test("body malformed: XML that is not XML", async () => {
  const result = await parseBody(bytes("just <text & <<< >>>"), options("application/xml"));
  assert.ok(result.ok);
});
