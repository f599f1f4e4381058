/**
 * Body abuse over the wire: a large streamed body, decompression bombs, deep and huge JSON,
 * multipart with 10,000 parts, XML entity expansion (never expanded, nothing fetched) and invalid
 * UTF-8 everywhere. Each is answered, the server serves other streams meanwhile, and releases its
 * body memory and heap afterwards.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import {
  assertHeapBack,
  blocksAttack,
  servesBenign,
  settledHeapBytes,
  waitFor,
  whileServing,
} from "../support/fault.ts";
import { exchange, openStream, status } from "../support/grpc-client.ts";
import {
  getHeaders,
  kindOf,
  requestBody,
  requestHeaders,
  responseHeaders,
} from "../support/messages.ts";
import { startWafServer, TEST_RULES, type WafServer } from "../support/waf-server.ts";

const MiB = 1024 * 1024;
/** Bytes of a streamed body in CI; `npm run fault:heavy` streams 1 GiB. */
const STREAMED_BYTES = 64 * MiB;
const CHUNK = 64 * 1024;

let waf: WafServer;
let baseline: number;
/** A local HTTP server that records any request: an XML parser that fetches would show here. */
let fetchTrap: Server;
const fetched: string[] = [];
let trapUrl = "";

before(async () => {
  waf = await startWafServer(
    { DD_APPSEC_RULES: TEST_RULES, DD_APPSEC_BODY_PARSING_SIZE_LIMIT: String(MiB) },
    { idleTimeoutMs: 60_000 },
  );
  fetchTrap = createServer((req, res) => {
    fetched.push(req.url ?? "");
    res.end("<!ENTITY x 'fetched'>");
  });
  await new Promise<void>((resolve) => fetchTrap.listen(0, "127.0.0.1", resolve));
  const address = fetchTrap.address();
  trapUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  await postBody("application/json", Buffer.from('{"warm":1}'));
  waf.forget();
  baseline = await settledHeapBytes();
});

after(async () => {
  await waf.close();
  await new Promise((resolve) => fetchTrap.close(resolve));
});

/**
 * POSTs `body` in STREAMED chunks with `contentType` (and more headers), then response headers;
 * returns the reply kinds. Stops at an ImmediateResponse.
 */
async function postBody(
  contentType: string,
  body: Buffer,
  extra: Record<string, string> = {},
): Promise<string[]> {
  const stream = openStream(waf.client);
  const kinds: string[] = [];
  const headers = getHeaders("/upload", { "content-type": contentType, ...extra });
  headers[0] = [":method", "POST"];
  kinds.push(kindOf(await exchange(stream, requestHeaders(headers, false), 30_000)) ?? "");
  for (let offset = 0; offset < body.length || offset === 0; offset += CHUNK) {
    const end = offset + CHUNK >= body.length;
    const reply = await exchange(
      stream,
      requestBody(body.subarray(offset, offset + CHUNK), end),
      30_000,
    );
    kinds.push(kindOf(reply) ?? "");
    if (kinds.at(-1) === "immediateResponse" || end) break;
  }
  if (kinds.at(-1) !== "immediateResponse") {
    kinds.push(kindOf(await exchange(stream, responseHeaders({ ":status": "200" }), 30_000)) ?? "");
    stream.end();
  }
  const final = await stream.status;
  assert.equal(final.code, status.OK, final.details);
  return kinds;
}

/** Passed: every reply a CONTINUE of its kind. */
function assertPassed(kinds: string[]): void {
  assert.ok(!kinds.includes("immediateResponse"), `blocked: ${kinds.join(",")}`);
  assert.equal(kinds.at(-1), "responseHeaders");
}

async function released(what: string): Promise<void> {
  await waitFor(() => waf.server.idleStreams.size === 0, 5000, `${what}: streams closed`);
  assert.equal(waf.bodyBudget.usedBytes, 0, `${what}: body budget returned`);
  await blocksAttack(waf.client);
  waf.forget();
  await assertHeapBack(baseline, what);
}

describe("body abuse", () => {
  test(`a ${STREAMED_BYTES / MiB} MiB streamed body is answered chunk by chunk, memory bounded`, async () => {
    await whileServing(waf.client, async () =>
      assertPassed(await postBody("application/octet-stream", Buffer.alloc(STREAMED_BYTES, 0x61))),
    );
    await released("streamed body");
  });

  for (const [name, bomb, encoding] of [
    ["gzip", () => gzipSync(Buffer.alloc(128 * MiB), { level: 9 }), "gzip"],
    [
      "brotli",
      () =>
        brotliCompressSync(Buffer.alloc(256 * MiB), {
          params: { [constants.BROTLI_PARAM_QUALITY]: 5 },
        }),
      "br",
    ],
  ] as const) {
    test(`a ${name} bomb is decoded only up to the body limit`, async () => {
      const compressed = bomb();
      await whileServing(waf.client, async () =>
        assertPassed(
          await postBody("application/json", compressed, { "content-encoding": encoding }),
        ),
      );
      await released(`${name} bomb`);
    });
  }

  test("a bomb still carries an attack within the limit", async () => {
    const payload = gzipSync(
      Buffer.concat([
        Buffer.from('{"payload":"match-request-body","pad":"'),
        Buffer.alloc(64 * MiB, 0x20),
        Buffer.from('"}'),
      ]),
    );
    const kinds = await postBody("application/json", payload, { "content-encoding": "gzip" });
    assert.ok(kinds.includes("immediateResponse"), kinds.join(","));
    await released("bomb with attack");
  });

  test("deeply nested JSON is answered", async () => {
    const depth = 200_000;
    const deep = Buffer.from(`${"[".repeat(depth)}${"]".repeat(depth)}`);
    assertPassed(await postBody("application/json", deep.subarray(0, MiB)));
    assertPassed(
      await postBody(
        "application/json",
        Buffer.from(`${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`).subarray(0, MiB),
      ),
    );
    await released("deep JSON");
  });

  test("a huge JSON array is answered", async () => {
    const array = Buffer.from(`[${"0,".repeat(MiB / 2 - 2)}0]`);
    await whileServing(waf.client, async () =>
      assertPassed(await postBody("application/json", array)),
    );
    await released("huge array");
  });

  test("multipart with 10,000 parts is answered", async () => {
    const parts: string[] = [];
    for (let i = 0; i < 10_000; i++)
      parts.push(
        `--B\r\nContent-Disposition: form-data; name="f${i}"; filename="a${i}.txt"\r\n\r\nx\r\n`,
      );
    const body = Buffer.from(`${parts.join("")}--B--\r\n`);
    await whileServing(waf.client, async () =>
      assertPassed(await postBody("multipart/form-data; boundary=B", body)),
    );
    await released("multipart parts");
  });

  test("XML entities are never expanded and nothing is fetched", async () => {
    const laughs = [`<!ENTITY l0 "lol">`];
    for (let i = 1; i < 10; i++) laughs.push(`<!ENTITY l${i} "${`&l${i - 1};`.repeat(10)}">`);
    const xml = `<?xml version="1.0"?><!DOCTYPE r [${laughs.join("")}<!ENTITY ext SYSTEM "${trapUrl}/ext"><!ENTITY % pe SYSTEM "${trapUrl}/pe"> %pe;]><r a="&l9;">&l9;&ext;</r>`;
    for (const type of ["application/xml", "text/xml", "application/soap+xml"])
      assertPassed(await postBody(type, Buffer.from(xml)));
    // The parsed body would hold 10^9 "lol"s if expanded; the heap check below would see it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(fetched, []);
    await released("XML entities");
  });

  test("invalid UTF-8 in path, headers, cookies and bodies is answered", async () => {
    const bad = Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80]);
    const text = bad.toString("latin1");
    const stream = openStream(waf.client);
    const headers = getHeaders(`/p${text}?q=${text}`, { "x-bad": text, cookie: `a=${text}` });
    const reply = await exchange(stream, requestHeaders(headers, true));
    assert.equal(kindOf(reply), "requestHeaders");
    stream.cancel();
    for (const type of [
      "application/json",
      "application/x-www-form-urlencoded",
      "text/plain",
      "application/xml",
      "multipart/form-data; boundary=B",
    ]) {
      const body = Buffer.concat([Buffer.from('{"k":"'), bad, Buffer.from('"}'), bad]);
      assertPassed(await postBody(type, body));
    }
    await servesBenign(waf.client);
    await released("invalid UTF-8");
  });
});
