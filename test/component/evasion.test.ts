/**
 * Detection under evasion (issue 14): each request shape that lets a backend read a payload a
 * naive WAF reader misses is driven through the ext_proc stream by the Envoy-behaving client, with
 * the real libddwaf and the test ruleset. The attack is blocked; its benign twin (same shape, no
 * payload) reaches the upstream. Payloads target anchored rules where the shape is structural
 * (`tst-body-001`: body key `payload` is exactly `match-request-body`), so a raw-text reading
 * cannot be what blocks.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { filterConfig } from "../envoy-client/fake-processor.ts";
import {
  EnvoyFilter,
  filterSettings,
  type HeaderList,
  type HttpRequest,
} from "../support/envoy/index.ts";
import { exchange, openStream } from "../support/grpc-client.ts";
import { headerList, kindOf, requestBody, requestHeaders } from "../support/messages.ts";
import { startWafServer, TEST_RULES, type WafServer } from "../support/waf-server.ts";

/** A request shape, built with the payload (attack) or without it (benign twin). */
interface Shape {
  name: string;
  /** Status of the block: 403 (`block`) or 418 (`block_418`). */
  status: number;
  request(attack: boolean): HttpRequest;
}

const BODY = (attack: boolean) => (attack ? "match-request-body" : "no-match-body");
const PHP = (attack: boolean) => (attack ? "$globals" : "globals");
const QUERY = (attack: boolean) => (attack ? "match-request-query" : "no-match-query");

const post = (headers: HeaderList, body: Uint8Array | string): HttpRequest => ({
  method: "POST",
  path: "/api",
  headers: [["host", "app.example.com"], ...headers],
  body,
  chunkSize: 7,
});
const get = (path: string, headers: HeaderList = []): HttpRequest => ({
  method: "GET",
  path,
  headers: [["host", "app.example.com"], ...headers],
});
const json = (type: string) => [["content-type", type]] as HeaderList;
const utf16le = (s: string) => Buffer.from(s, "utf16le");
const utf16be = (s: string) => Buffer.from(s, "utf16le").swap16();
const part = (boundary: string, headers: string, value: string) =>
  `--${boundary}\r\n${headers}\r\n\r\n${value}\r\n--${boundary}--\r\n`;
const field = 'Content-Disposition: form-data; name="payload"';
/** A form with one part. */
const form = (headers: string, value: string) =>
  post(json("multipart/form-data; boundary=B"), part("B", headers, value));
/** A form whose one part is a nested multipart/mixed of one part. */
const nestedForm = (outer: string, headers: string, value: string) =>
  form(`${outer}\r\nContent-Type: multipart/mixed; boundary=C`, part("C", headers, value));

/** EBCDIC (IBM037) for the few characters the form below needs. */
function ibm037(text: string): Buffer {
  const table: Record<string, number> = { "=": 0x7e, $: 0x5b, "&": 0x50, _: 0x6d };
  const letters = (c: string) => {
    const i = "abcdefghi".indexOf(c);
    if (i >= 0) return 0x81 + i;
    const j = "jklmnopqr".indexOf(c);
    if (j >= 0) return 0x91 + j;
    const k = "stuvwxyz".indexOf(c);
    return k >= 0 ? 0xa2 + k : 0x40;
  };
  return Buffer.from([...text].map((c) => table[c] ?? letters(c)));
}

const SHAPES: Shape[] = [
  // JSON that is not a single clean document.
  {
    name: "JSON repeated key (a first-wins backend reads the payload)",
    status: 403,
    request: (a) => post(json("application/json"), `{"payload":"${BODY(a)}","payload":"x"}`),
  },
  {
    name: "JSON second document after a clean one",
    status: 403,
    request: (a) => post(json("application/json"), `{"a":1}\n{"payload":"${BODY(a)}"}`),
  },
  {
    name: "JSON stray closing brackets around the document",
    status: 403,
    request: (a) => post(json("application/json"), `]}{"payload":"${BODY(a)}"}]}`),
  },
  {
    name: "JSON trailing bytes then a document",
    status: 403,
    request: (a) => post(json("application/json"), `{"a":1} trailing {"payload":"${BODY(a)}"}`),
  },
  // Media types per RFC 9110.
  {
    name: "multipart boundary quoted with ';', ',' and an escaped quote",
    status: 403,
    request: (a) =>
      post(json('multipart/form-data; boundary="a;b,\\"c"'), part('a;b,"c', field, BODY(a))),
  },
  {
    name: "media type parameter name in upper case, spaces around '='",
    status: 403,
    request: (a) => post(json("Multipart/Form-Data; BOUNDARY = xyz"), part("xyz", field, BODY(a))),
  },
  {
    name: "boundary in RFC 2231 sections",
    status: 403,
    request: (a) =>
      post(json("multipart/form-data; boundary*0=ab; boundary*1=cd"), part("abcd", field, BODY(a))),
  },
  // Repeated header lines.
  {
    name: "Content-Encoding gzip on two lines",
    status: 403,
    request: (a) =>
      post(
        [
          ["content-type", "application/json"],
          ["content-encoding", "gzip"],
          ["content-encoding", "gzip"],
        ],
        gzipSync(gzipSync(`{"q":"${PHP(a)}"}`)),
      ),
  },
  {
    name: "Content-Type on two lines",
    status: 403,
    request: (a) =>
      post(
        [
          ["content-type", "text/html"],
          ["content-type", "application/json"],
        ],
        `{"payload":"${BODY(a)}"}`,
      ),
  },
  // Multipart.
  {
    name: "file name in a nested multipart/mixed part",
    status: 403,
    request: (a) =>
      nestedForm(
        'Content-Disposition: form-data; name="files"',
        `Content-Disposition: file; filename="${a ? "match-request-filename.php" : "a.txt"}"`,
        "<?php",
      ),
  },
  {
    name: "field in a nested multipart/mixed part",
    status: 403,
    request: (a) => nestedForm(field, "Content-Type: text/plain", BODY(a)),
  },
  {
    name: "part Content-Transfer-Encoding base64",
    status: 403,
    request: (a) =>
      form(
        `${field}\r\nContent-Transfer-Encoding: base64`,
        Buffer.from(BODY(a)).toString("base64"),
      ),
  },
  {
    name: "part Content-Transfer-Encoding quoted-printable",
    status: 403,
    request: (a) =>
      form(
        `${field}\r\nContent-Transfer-Encoding: quoted-printable`,
        `${BODY(a).slice(0, 5)}=\r\n=${BODY(a).charCodeAt(5).toString(16)}${BODY(a).slice(6)}`,
      ),
  },
  {
    name: "part charset UTF-16",
    status: 403,
    request: (a) =>
      post(
        json("multipart/form-data; boundary=B"),
        Buffer.concat([
          Buffer.from(`--B\r\n${field}\r\nContent-Type: text/plain; charset=utf-16le\r\n\r\n`),
          utf16le(BODY(a)),
          Buffer.from("\r\n--B--\r\n"),
        ]),
      ),
  },
  {
    name: "JSON part of a multipart/related body",
    status: 403,
    request: (a) =>
      post(
        json("multipart/related; boundary=B"),
        part("B", "Content-Type: application/json", `{"payload":"${BODY(a)}"}`),
      ),
  },
  // Declared type or coding disagreeing with the bytes.
  {
    name: "no content type, JSON bytes",
    status: 403,
    request: (a) => post([], `{"payload":"${BODY(a)}"}`),
  },
  {
    name: "application/octet-stream, form bytes",
    status: 403,
    request: (a) => post(json("application/octet-stream"), `x=1&payload=${BODY(a)}`),
  },
  {
    name: "no content type, XML bytes",
    status: 403,
    request: (a) => post([], `<r><q>${PHP(a)}</q></r>`),
  },
  {
    name: "gzip signature declared identity",
    status: 403,
    request: (a) =>
      post(
        [
          ["content-type", "application/json"],
          ["content-encoding", "identity"],
        ],
        gzipSync(`{"q":"${PHP(a)}"}`),
      ),
  },
  {
    name: "zlib signature, no coding declared",
    status: 403,
    request: (a) =>
      post(json("application/x-www-form-urlencoded"), deflateSync(`payload=${BODY(a)}`)),
  },
  {
    name: "brotli bytes, no coding declared",
    status: 403,
    request: (a) => post(json("application/json"), brotliCompressSync(`{"q":"${PHP(a)}"}`)),
  },
  {
    name: "gzip declared, plain bytes sent",
    status: 403,
    request: (a) =>
      post(
        [
          ["content-type", "application/json"],
          ["content-encoding", "gzip"],
        ],
        `{"payload":"${BODY(a)}"}`,
      ),
  },
  {
    name: "text/plain holding JSON",
    status: 403,
    request: (a) => post(json("text/plain"), `{"payload":"${BODY(a)}"}`),
  },
  // Charsets.
  {
    name: "JSON in UTF-16LE with a BOM",
    status: 403,
    request: (a) =>
      post(
        json("application/json; charset=utf-16"),
        Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le(`{"q":"${PHP(a)}"}`)]),
      ),
  },
  {
    name: "JSON in UTF-16BE without a BOM",
    status: 403,
    request: (a) => post(json("application/json; charset=UTF-16"), utf16be(`{"q":"${PHP(a)}"}`)),
  },
  {
    name: "JSON in UTF-16LE, no charset declared",
    status: 403,
    request: (a) => post(json("application/json"), utf16le(`{"q":"${PHP(a)}"}`)),
  },
  {
    name: "form in UTF-16LE",
    status: 403,
    request: (a) =>
      post(
        json("application/x-www-form-urlencoded; charset=utf-16le"),
        utf16le(`payload=${BODY(a)}`),
      ),
  },
  {
    name: "form in Latin-1",
    status: 403,
    request: (a) =>
      post(
        json('application/x-www-form-urlencoded; charset="ISO-8859-1"'),
        Buffer.from(`n=caf%E9&q=${PHP(a)}`, "latin1"),
      ),
  },
  {
    name: "form in EBCDIC (IBM037)",
    status: 403,
    request: (a) =>
      post(json("application/x-www-form-urlencoded; charset=ibm037"), ibm037(`q=${PHP(a)}`)),
  },
  {
    name: "form in UTF-7",
    status: 403,
    request: (a) =>
      post(
        json("application/x-www-form-urlencoded; charset=utf-7"),
        `q=${a ? "+ACQ-globals" : "+AGc-lobals"}`,
      ),
  },
  // Query and cookies.
  {
    name: "query pair hidden behind ';'",
    status: 418,
    request: (a) => get(`/search?x=1;q=${QUERY(a)}`),
  },
  {
    name: "query key repeated, payload second",
    status: 418,
    request: (a) => get(`/search?q=fine&q=${QUERY(a)}`),
  },
  {
    name: "query double percent-encoding",
    status: 403,
    request: (a) => get(`/search?q=%25${a ? "24" : "25"}globals`),
  },
  {
    name: "query overlong UTF-8",
    status: 403,
    request: (a) => get(`/search?q=%C0%${a ? "A4" : "A5"}globals`),
  },
  {
    name: "query IIS %u escape",
    status: 403,
    request: (a) => get(`/search?q=%u00${a ? "24" : "25"}globals`),
  },
  {
    name: "query fullwidth character folded by NFKC",
    status: 403,
    request: (a) => get(`/search?q=%EF%BC%${a ? "84" : "85"}globals`),
  },
  {
    name: "header name with underscores (CGI backends read it as the dashed one)",
    status: 403,
    request: (a) => get("/", [["user_agent", a ? "dd-test-scanner-log-block" : "Mozilla/5.0"]]),
  },
  {
    name: "cookie value percent-encoded",
    status: 418,
    request: (a) => get("/", [["cookie", `c=jdfoSDGFkivRG%5F${a ? "234" : "999"}`]]),
  },
];

/** Uploads with no or a generic type: sniffed, never parsed as text. */
const UPLOADS: Array<[string, HeaderList, Uint8Array | string]> = [
  [
    "PNG, no type",
    [],
    Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.from("$globals")]),
  ],
  [
    "ZIP, octet-stream",
    json("application/octet-stream"),
    Buffer.from("PK\x03\x04$globals", "latin1"),
  ],
  ["SVG, no type", [], '<svg xmlns="http://www.w3.org/2000/svg"><text>$globals</text></svg>'],
  ["prose, octet-stream", json("application/octet-stream"), "notes on $globals in PHP"],
  ["PNG declared, JSON bytes", json("image/png"), '{"payload":"match-request-body"}'],
];

describe("detection under evasion (issue 14)", () => {
  let waf: WafServer;
  let filter: EnvoyFilter;
  before(async () => {
    waf = await startWafServer({ DD_APPSEC_RULES: TEST_RULES });
    // Fail closed with a long message timeout: a slow run on a loaded machine shows as an error,
    // never as a pass.
    const config = filterConfig({ allowModeOverride: true, messageTimeoutMs: 10_000 });
    filter = new EnvoyFilter(waf.client, filterSettings(config));
  });
  after(() => waf.close());

  const send = (request: HttpRequest) =>
    filter.exchange({
      request,
      upstream: async () => ({
        status: 200,
        headers: { "content-type": "text/plain" },
        body: "ok",
      }),
    });

  for (const shape of SHAPES) {
    test(`blocks-evasion: ${shape.name}`, async () => {
      const result = await send(shape.request(true));
      assert.equal(result.status, shape.status, `failure: ${JSON.stringify(result.failure)}`);
      assert.equal(result.reachedUpstream, false);
    });
    test(`passes-benign-twin: ${shape.name}`, async () => {
      const result = await send(shape.request(false));
      assert.equal(result.status, 200, `failure: ${JSON.stringify(result.failure)}`);
      assert.equal(result.reachedUpstream, true);
    });
  }

  test("an upload with no type that starts like an image is not held: its bytes are released at once", async () => {
    const stream = openStream(waf.client);
    await exchange(stream, requestHeaders(headerList("PUT", "/files/a"), false));
    const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(4096, 7)]);
    assert.equal(kindOf(await exchange(stream, requestBody(png, false))), "requestBody");
    assert.equal(waf.bodyBudget.usedBytes, 0);
    assert.equal(kindOf(await exchange(stream, requestBody(png, true))), "requestBody");
    stream.cancel();
  });

  test("an upload with no type that is text is held until its end, to be sniffed", async () => {
    const stream = openStream(waf.client);
    await exchange(stream, requestHeaders(headerList("PUT", "/files/a"), false));
    await exchange(stream, requestBody('{"payload":', false));
    assert.equal(waf.bodyBudget.usedBytes, 11);
    const reply = await exchange(stream, requestBody('"match-request-body"}', true));
    assert.equal(kindOf(reply), "immediateResponse");
    assert.equal(waf.bodyBudget.usedBytes, 0);
  });

  for (const [name, headers, body] of UPLOADS) {
    test(`passes-binary-upload: ${name}`, async () => {
      const result = await send(post(headers, body));
      assert.equal(result.status, 200);
      assert.equal(result.reachedUpstream, true);
    });
  }
});
