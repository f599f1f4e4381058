/**
 * Request-header scenarios (docs/scenarios.md, B01–B15), with
 * the real libddwaf and the test ruleset, driven through the gRPC stream.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ProcessingMode_BodySendMode } from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import type { ProcessingResponse } from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { exchange, openStream, status } from "../support/grpc-client.ts";
import {
  getHeaders,
  headerList,
  headersSet,
  kindOf,
  requestHeaders,
  responseHeaders,
} from "../support/messages.ts";
import { startWafServer, TEST_RULES, type WafServer } from "../support/waf-server.ts";

const decoder = new TextDecoder();

function immediate(response: ProcessingResponse) {
  assert.equal(kindOf(response), "immediateResponse", "expected an ImmediateResponse");
  if (response.response.case !== "immediateResponse") throw new Error("unreachable");
  const value = response.response.value;
  return {
    status: value.status?.code,
    headers: headersSet(response),
    body: decoder.decode(value.body),
  };
}

async function lastStreamEnd(waf: WafServer): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const ends = waf.streamEnds();
    if (ends.length > 0) return ends[ends.length - 1] as Record<string, unknown>;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("no stream end logged");
}

describe("request headers with the test ruleset", () => {
  let waf: WafServer;
  before(async () => {
    waf = await startWafServer({ DD_APPSEC_RULES: TEST_RULES });
  });
  after(() => waf.close());

  async function oneShot(requestHeaderList: Array<[string, string]>) {
    const stream = openStream(waf.client);
    const reply = await exchange(stream, requestHeaders(requestHeaderList, true));
    return { stream, reply };
  }

  test("B01 continues-benign-request: CONTINUE without override, clean close after response headers", async () => {
    const { stream, reply } = await oneShot(headerList("PUT", "/", { "user-agent": "Chromium" }));
    assert.equal(kindOf(reply), "requestHeaders");
    assert.equal(reply.modeOverride, undefined);
    assert.equal(
      kindOf(await exchange(stream, responseHeaders({ ":status": "200" }, true))),
      "responseHeaders",
    );
    assert.equal((await stream.status).code, status.OK);
  });

  test("B02 monitors-scanner-user-agent: CONTINUE and the monitoring rule is recorded", async () => {
    const before = waf.streamEnds().length;
    const { stream, reply } = await oneShot(
      headerList("POST", "/", { "user-agent": "dd-test-scanner-log" }),
    );
    assert.equal(kindOf(reply), "requestHeaders");
    await exchange(stream, responseHeaders({ ":status": "200" }, true));
    await stream.status;
    const end = await lastStreamEnd(waf);
    assert.equal(waf.streamEnds().length, before + 1);
    assert.deepEqual(end.rules, ["ua0-600-55x"]);
    assert.equal(end.blocked, false);
  });

  test("B03 blocks-on-request-headers: 403 JSON block page with content-type and content-length", async () => {
    const { stream, reply } = await oneShot(
      headerList("GET", "/", { "user-agent": "dd-test-scanner-log-block" }),
    );
    const page = immediate(reply);
    assert.equal(page.status, 403);
    assert.equal(page.headers["content-type"], "application/json");
    assert.equal(Number(page.headers["content-length"]), Buffer.byteLength(page.body));
    const json = JSON.parse(page.body) as {
      errors: Array<{ title: string }>;
      security_response_id: string;
    };
    assert.equal(json.errors[0]?.title, "You've been blocked");
    assert.match(json.security_response_id, /^[0-9a-f-]{36}$/);
    assert.equal((await stream.status).code, status.OK);
  });

  const accepts: Array<[string | undefined, string]> = [
    ["text/html", "text/html"],
    ["text/html, application/json", "text/html"],
    ["application/json, text/html", "application/json"],
    ["irrelevant/irrelevant,application/html", "application/json"],
    ["*/*", "application/json"],
    [undefined, "application/json"],
  ];
  for (const [accept, want] of accepts) {
    test(`B04/B05 chooses the block page from Accept: ${accept ?? "(none)"} → ${want}`, async () => {
      const extra: Record<string, string> = { "user-agent": "dd-test-scanner-log-block" };
      if (accept) extra.accept = accept;
      const { reply } = await oneShot(headerList("GET", "/", extra));
      const page = immediate(reply);
      assert.equal(page.headers["content-type"], want);
      if (want === "text/html") assert.match(page.body, /<html/i);
    });
  }

  test("B06 blocks-on-query with the rule's 418 status", async () => {
    const { reply } = await oneShot(
      headerList("GET", "/hello?match=match-request-query", { "user-agent": "Mistake Not..." }),
    );
    assert.equal(immediate(reply).status, 418);
  });

  test("B07 blocks-on-cookie", async () => {
    const { reply } = await oneShot(
      headerList("OPTIONS", "/", { cookie: "foo=jdfoSDGFkivRG_234" }),
    );
    assert.equal(immediate(reply).status, 418);
  });

  test("B08 blocks-on-client-ip from x-forwarded-for", async () => {
    const { reply } = await oneShot(
      headerList("GET", "/", { "x-forwarded-for": "111.222.111.222" }),
    );
    assert.equal(immediate(reply).status, 403);
  });

  test("B09 blocks when the first public x-forwarded-for entry is blocked", async () => {
    const { reply } = await oneShot(
      headerList("GET", "/", { "x-forwarded-for": "111.222.111.222, 18.18.18.18, 8.233.57.190" }),
    );
    assert.equal(immediate(reply).status, 403);
  });

  test("B10 continues when the blocked IP is not the client IP", async () => {
    const { reply } = await oneShot(
      headerList("PUT", "/", { "x-forwarded-for": "10.0.0.1, 18.18.18.18" }),
    );
    assert.equal(kindOf(reply), "requestHeaders");
  });

  test("B14 DD_TRACE_CLIENT_IP_HEADER: only that header gives the client IP", async (t) => {
    const custom = await startWafServer({
      DD_APPSEC_RULES: TEST_RULES,
      DD_TRACE_CLIENT_IP_HEADER: "x-custom-ip",
    });
    t.after(() => custom.close());
    const stream = openStream(custom.client);
    const reply = await exchange(
      stream,
      requestHeaders(
        headerList("PUT", "/", {
          "x-forwarded-for": "111.222.111.222",
          "x-custom-ip": "18.18.18.18",
        }),
        true,
      ),
    );
    assert.equal(kindOf(reply), "requestHeaders");
    const blocked = openStream(custom.client);
    const second = await exchange(
      blocked,
      requestHeaders(
        headerList("PUT", "/", {
          "x-forwarded-for": "18.18.18.18",
          "x-custom-ip": "111.222.111.222",
        }),
        true,
      ),
    );
    assert.equal(immediate(second).status, 403);
  });

  test("blocks on the raw URI", async () => {
    const { reply } = await oneShot(headerList("GET", "/tst-blocked-path/x"));
    assert.equal(immediate(reply).status, 403);
  });

  test("B46 redirects with the action's 302 and the security response id in the location", async () => {
    const { reply } = await oneShot(headerList("GET", "/?q=match-redirect-query"));
    const page = immediate(reply);
    assert.equal(page.status, 302);
    assert.match(page.headers.location ?? "", /^\/blocked\?id=[0-9a-f-]{36}$/);
  });

  test("B47 a redirect with a non-3xx status becomes 303", async () => {
    const { reply } = await oneShot(headerList("GET", "/?q=match-redirect-200"));
    assert.equal(immediate(reply).status, 303);
  });

  test("B48 a block with type html answers HTML whatever the Accept", async () => {
    const { reply } = await oneShot(
      headerList("GET", "/?q=match-block-html", { accept: "application/json" }),
    );
    const page = immediate(reply);
    assert.equal(page.status, 401);
    assert.equal(page.headers["content-type"], "text/html");
  });

  test("X07 a header sent in value with an empty raw_value is still inspected", async () => {
    const { create } = await import("@bufbuild/protobuf");
    const { HeaderValueSchema } = await import(
      "../../processor/gen/envoy/config/core/v3/base_pb.ts"
    );
    const message = requestHeaders(headerList("GET", "/"), true);
    if (message.request.case !== "requestHeaders") throw new Error("unreachable");
    message.request.value.headers?.headers.push(
      create(HeaderValueSchema, { key: "user-agent", value: "dd-test-scanner-log-block" }),
    );
    const stream = openStream(waf.client);
    assert.equal(immediate(await exchange(stream, message)).status, 403);
  });

  test("B16 asks for a JSON request body with mode_override STREAMED", async () => {
    const stream = openStream(waf.client);
    const reply = await exchange(
      stream,
      requestHeaders(headerList("POST", "/api", { "content-type": "application/json" }), false),
    );
    assert.equal(reply.modeOverride?.requestBodyMode, ProcessingMode_BodySendMode.STREAMED);
    stream.cancel();
  });

  const contentTypes: Array<[string | undefined, boolean]> = [
    ["application/json", true],
    ["application/vnd.api+json", true],
    ["text/json", true],
    ["application/json; charset=utf-8", true],
    ["application/x-www-form-urlencoded", true],
    ["multipart/form-data; boundary=x", true],
    ["application/xml", true],
    ["text/xml", true],
    ["text/plain", true],
    ["text/html", false],
    ["image/png", false],
    // Unlike the Go reference, a type that says nothing is sniffed: backends that ignore it may
    // still read JSON or a form from the body (issue 14, test/component/evasion.test.ts).
    ["application/octet-stream", true],
    [undefined, true],
  ];
  for (const [contentType, wanted] of contentTypes) {
    test(`B21 ${wanted ? "asks" : "does not ask"} for a ${contentType ?? "typeless"} request body`, async () => {
      const stream = openStream(waf.client);
      const extra: Record<string, string> = contentType ? { "content-type": contentType } : {};
      const reply = await exchange(stream, requestHeaders(headerList("POST", "/", extra), false));
      assert.equal(
        reply.modeOverride?.requestBodyMode === ProcessingMode_BodySendMode.STREAMED,
        wanted,
      );
      stream.cancel();
    });
  }

  test("B22 body inspection off (limit 0): no override", async (t) => {
    const off = await startWafServer({
      DD_APPSEC_RULES: TEST_RULES,
      DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "0",
    });
    t.after(() => off.close());
    const stream = openStream(off.client);
    const reply = await exchange(
      stream,
      requestHeaders(headerList("POST", "/", { "content-type": "application/json" }), false),
    );
    assert.equal(reply.modeOverride, undefined);
    stream.cancel();
  });

  for (const [name, extra, method] of [
    [
      "websocket upgrade",
      { upgrade: "websocket", connection: "Upgrade", "content-type": "application/json" },
      "GET",
    ],
    ["CONNECT", { "content-type": "application/json" }, "CONNECT"],
  ] as const) {
    test(`X05 never asks for the body of a ${name}`, async () => {
      const stream = openStream(waf.client);
      const reply = await exchange(stream, requestHeaders(headerList(method, "/", extra), false));
      assert.equal(reply.modeOverride, undefined);
      stream.cancel();
    });
  }

  test("B41 request headers without :path end the stream with INVALID_ARGUMENT", async () => {
    const stream = openStream(waf.client);
    stream.send(requestHeaders([[":method", "GET"]], true));
    const ended = await stream.status;
    assert.equal(ended.code, status.INVALID_ARGUMENT);
  });

  test("B42 a path with invalid percent escapes is accepted and inspected", async () => {
    const { reply } = await oneShot(
      headerList("GET", "/%u002e/%ZZ/%tt/%uuuu/%uwu/%%?q=match-request-query"),
    );
    assert.equal(immediate(reply).status, 418);
  });
});

describe("recommended ruleset", () => {
  let waf: WafServer;
  before(async () => {
    waf = await startWafServer();
  });
  after(() => waf.close());

  test("blocks the test scanner user agent dd-test-scanner-log-block", async () => {
    const stream = openStream(waf.client);
    const reply = await exchange(
      stream,
      requestHeaders(getHeaders("/", { "user-agent": "dd-test-scanner-log-block" }), true),
    );
    assert.equal(immediate(reply).status, 403);
  });

  test("monitors an XSS in the query without blocking and names the rule", async () => {
    const stream = openStream(waf.client);
    const reply = await exchange(
      stream,
      requestHeaders(getHeaders("/?q=<script>alert(1)</script>"), true),
    );
    assert.equal(kindOf(reply), "requestHeaders");
    await exchange(stream, responseHeaders({ ":status": "200" }, true));
    await stream.status;
    const end = await lastStreamEnd(waf);
    assert.ok(
      (end.rules as string[]).some((id) => id.startsWith("crs-941")),
      `rules: ${JSON.stringify(end.rules)}`,
    );
  });
});
