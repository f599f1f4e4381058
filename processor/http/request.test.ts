import assert from "node:assert/strict";
import { test } from "node:test";
import type { HeaderEntry } from "./headers.ts";
import { requestFromHeaders, responseFromHeaders } from "./request.ts";

function entries(map: Array<[string, string]>): HeaderEntry[] {
  return map.map(([key, value]) => ({ key, value }));
}

const base: Array<[string, string]> = [
  [":method", "POST"],
  [":scheme", "https"],
  [":authority", "api.example.com"],
  [":path", "/v1/items?q=a+b&q=%3Cx%3E#frag"],
];

function request(extra: Array<[string, string]> = [], options = {}) {
  const result = requestFromHeaders(entries([...base, ...extra]), options);
  assert.ok(result.ok);
  return result.value;
}

test("request: pseudo-headers become fields", () => {
  const r = request();
  assert.equal(r.method, "POST");
  assert.equal(r.scheme, "https");
  assert.equal(r.authority, "api.example.com");
  assert.equal(r.rawUri, "/v1/items?q=a+b&q=%3Cx%3E#frag");
  assert.equal(r.path, "/v1/items");
  assert.deepEqual(r.query, { q: ["a b", "<x>"] });
  assert.equal(r.isUpgrade, false);
});

test("request: headers lower-cased, repeated kept, pseudo and cookie excluded", () => {
  const r = request([
    ["X-Test", "1"],
    ["x-test", "2"],
    ["Cookie", "a=1"],
    ["cookie", "b=2"],
    ["", "ignored"],
  ]);
  assert.deepEqual(r.headers, { "x-test": ["1", "2"], host: ["api.example.com"] });
  assert.deepEqual(r.cookies, { a: ["1"], b: ["2"] });
});

test("request: host header is replaced by the authority", () => {
  assert.deepEqual(request([["host", "other"]]).headers.host, ["api.example.com"]);
});

test("request: missing :authority falls back to host", () => {
  const result = requestFromHeaders(
    entries([
      [":method", "GET"],
      [":path", "/"],
      ["host", "h.example"],
    ]),
    {},
  );
  assert.ok(result.ok);
  assert.equal(result.value.authority, "h.example");
  assert.equal(result.value.scheme, "http");
});

test("request: no query and no cookies give empty maps", () => {
  const result = requestFromHeaders(
    entries([
      [":method", "GET"],
      [":path", "/x"],
    ]),
    {},
  );
  assert.ok(result.ok);
  assert.deepEqual(result.value.query, {});
  assert.deepEqual(result.value.cookies, {});
  assert.equal(result.value.authority, "");
  assert.equal("clientIp" in result.value, false);
});

for (const missing of [":method", ":path"]) {
  test(`request: missing ${missing} is an error value`, () => {
    const result = requestFromHeaders(entries(base.filter(([key]) => key !== missing)), {});
    assert.deepEqual(result, {
      ok: false,
      error: { code: "missing-pseudo-header", header: missing, message: `missing ${missing}` },
    });
  });
}

test("request: empty :method and :path are accepted, as in the Go reference", () => {
  const result = requestFromHeaders(
    entries([
      [":method", ""],
      [":path", ""],
    ]),
    {},
  );
  assert.ok(result.ok);
  assert.equal(result.value.path, "");
});

test("request: content fields", () => {
  const r = request([
    ["Content-Type", "application/json; charset=utf-8"],
    ["content-encoding", "gzip"],
    ["content-length", "42"],
  ]);
  assert.equal(r.contentType, "application/json; charset=utf-8");
  assert.equal(r.contentEncoding, "gzip");
  assert.equal(r.contentLength, 42);
});

test("request: repeated Content-Encoding and Content-Type lines are joined, not cut to the first", () => {
  const r = request([
    ["content-type", "text/html"],
    ["content-encoding", "gzip"],
    ["Content-Type", "application/json"],
    ["Content-Encoding", "br"],
  ]);
  assert.equal(r.contentType, "text/html, application/json");
  assert.equal(r.contentEncoding, "gzip, br");
});

test("request: a header name with underscores also counts under its dashed name (CGI backends)", () => {
  const r = request([
    ["user_agent", "sqlmap/1.7"],
    ["User-Agent", "Mozilla"],
    ["x_a_b", "1"],
  ]);
  assert.deepEqual(r.headers["user-agent"], ["Mozilla", "sqlmap/1.7"]);
  assert.deepEqual(r.headers.user_agent, ["sqlmap/1.7"]);
  assert.deepEqual(r.headers["x-a-b"], ["1"]);
});

test("request: underscores do not change the client IP headers", () => {
  const r = request([["x_forwarded_for", "1.2.3.4"]], { remoteAddress: "10.0.0.1:5" });
  assert.notEqual(r.clientIp, "1.2.3.4");
});

test("response: repeated Content-Encoding lines are joined", () => {
  const result = responseFromHeaders(
    entries([
      [":status", "200"],
      ["content-encoding", "gzip"],
      ["content-encoding", "gzip"],
    ]),
  );
  assert.ok(result.ok);
  assert.equal(result.value.contentEncoding, "gzip, gzip");
});

test("request: query shapes backends read differently keep every reading", () => {
  const r = requestFromHeaders(
    entries([
      [":method", "GET"],
      [":path", "/s?q=safe&q=%2524globals;x=%C0%BCscript%C0%BE"],
    ]),
    {},
  );
  assert.ok(r.ok);
  assert.deepEqual(r.value.query, {
    q: [
      "safe",
      "%24globals;x=\uFFFD\uFFFDscript\uFFFD\uFFFD",
      "%24globals;x=<script>",
      "$globals;x=\uFFFD\uFFFDscript\uFFFD\uFFFD",
      "%24globals",
      "$globals",
    ],
    x: ["\uFFFD\uFFFDscript\uFFFD\uFFFD", "<script>"],
  });
});

for (const [name, values] of [
  ["non-numeric", ["abc"]],
  ["negative", ["-1"]],
  ["conflicting", ["1", "2"]],
] as const) {
  test(`request: ${name} content-length is left out`, () => {
    const r = request(values.map((v) => ["content-length", v] as [string, string]));
    assert.equal(r.contentLength, undefined);
  });
}

for (const [name, extra, method] of [
  ["upgrade header", [["upgrade", "websocket"]], "GET"],
  ["connection: upgrade", [["connection", "keep-alive, Upgrade"]], "GET"],
  ["CONNECT method", [], "CONNECT"],
  ["HTTP/2 :protocol", [[":protocol", "websocket"]], "GET"],
] as Array<[string, Array<[string, string]>, string]>) {
  test(`request: ${name} is an upgrade`, () => {
    const result = requestFromHeaders(
      entries([[":method", method], [":path", "/ws"], ...extra]),
      {},
    );
    assert.ok(result.ok);
    assert.equal(result.value.isUpgrade, true);
  });
}

test("request: client IP and remote IP", () => {
  const r = request([["x-forwarded-for", "10.0.0.1, 8.8.8.8"]], { remoteAddress: "10.1.1.1:3456" });
  assert.equal(r.clientIp, "8.8.8.8");
  assert.equal(r.remoteIp, "10.1.1.1");
});

test("request: custom client IP header", () => {
  const r = request(
    [
      ["x-forwarded-for", "8.8.8.8"],
      ["x-real-client", "9.9.9.9"],
    ],
    {
      clientIpHeader: "X-Real-Client",
    },
  );
  assert.equal(r.clientIp, "9.9.9.9");
});

test("response: status, headers with set-cookie, content fields", () => {
  const result = responseFromHeaders(
    entries([
      [":status", "201"],
      ["Set-Cookie", "a=1"],
      ["set-cookie", "b=2"],
      ["cookie", "dropped"],
      ["Content-Type", "application/json"],
      ["content-encoding", "br"],
    ]),
  );
  assert.deepEqual(result, {
    ok: true,
    value: {
      status: 201,
      headers: {
        "set-cookie": ["a=1", "b=2"],
        "content-type": ["application/json"],
        "content-encoding": ["br"],
      },
      contentType: "application/json",
      contentEncoding: "br",
    },
  });
});

test("response: missing :status is an error value", () => {
  const result = responseFromHeaders(entries([["content-type", "text/plain"]]));
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.error.code, "missing-pseudo-header");
  assert.equal(!result.ok && result.error.header, ":status");
});

for (const status of ["abc", "99", "600", "2000", "", "20x", "1e2"]) {
  test(`response: :status ${JSON.stringify(status)} is invalid-status`, () => {
    const result = responseFromHeaders(entries([[":status", status]]));
    assert.equal(!result.ok && result.error.code, "invalid-status");
  });
}

for (const status of ["100", "599"]) {
  test(`response: :status ${status} is accepted`, () => {
    const result = responseFromHeaders(entries([[":status", status]]));
    assert.equal(result.ok && result.value.status, Number(status));
  });
}
