/**
 * Body and response scenarios (docs/scenarios.md): request-body and
 * response-body blocks for every body type, truncation at the limit, trailers, early responses,
 * observability mode. Real libddwaf, test ruleset.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { ProcessingMode_BodySendMode } from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import type { ProcessingResponse } from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { type ExtProcStream, exchange, openStream, status } from "../support/grpc-client.ts";
import {
  headerList,
  kindOf,
  requestBody,
  requestHeaders,
  requestTrailers,
  responseBody,
  responseHeaders,
  responseTrailers,
} from "../support/messages.ts";
import { startWafServer, TEST_RULES, type WafServer } from "../support/waf-server.ts";

function statusOf(reply: ProcessingResponse): number | string | undefined {
  return reply.response.case === "immediateResponse"
    ? reply.response.value.status?.code
    : kindOf(reply);
}

function post(contentType: string, extra: Record<string, string> = {}): Array<[string, string]> {
  return headerList("POST", "/api", { "content-type": contentType, ...extra });
}

/** Sends a body in chunks of `size` bytes then an empty end-of-stream chunk, as STREAMED does. */
async function sendChunks(
  stream: ExtProcStream,
  body: Uint8Array,
  size: number,
  endWithEmpty = true,
) {
  const replies: Array<number | string | undefined> = [];
  for (let offset = 0; offset < body.length; offset += size) {
    const last = offset + size >= body.length;
    const reply = await exchange(
      stream,
      requestBody(body.subarray(offset, offset + size), last && !endWithEmpty),
    );
    replies.push(statusOf(reply));
    if (reply.response.case === "immediateResponse") return replies;
  }
  if (endWithEmpty) replies.push(statusOf(await exchange(stream, requestBody("", true))));
  return replies;
}

const encoder = new TextEncoder();
const boundary = "----aapboundary";
const multipart = (name: string, value: string, filename?: string) =>
  `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ""}\r\n\r\n${value}\r\n--${boundary}--\r\n`;

describe("request bodies", () => {
  let waf: WafServer;
  before(async () => {
    waf = await startWafServer({
      DD_APPSEC_RULES: TEST_RULES,
      DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "256",
    });
  });
  after(() => waf.close());

  const blockingBodies: Array<[string, string, string]> = [
    ["JSON", "application/json", '{ "name": "$globals" }'],
    ["JSON key payload", "application/json", '{"payload": "match-request-body"}'],
    ["+json", "application/vnd.api+json", '{"data": {"name": "$globals"}}'],
    ["urlencoded form (X03)", "application/x-www-form-urlencoded", "a=%24globals&b=2"],
    [
      "multipart field",
      `multipart/form-data; boundary=${boundary}`,
      multipart("payload", "match-request-body"),
    ],
    [
      "multipart file name",
      `multipart/form-data; boundary=${boundary}`,
      multipart("upload", "<?php ?>", "match-request-filename.php"),
    ],
    ["XML", "application/xml", "<root><name>$globals</name></root>"],
    ["XML attribute", "text/xml", '<root name="$globals"/>'],
    ["plain text", "text/plain", "$globals"],
  ];
  for (const [name, contentType, body] of blockingBodies) {
    test(`blocks-on-request-body: ${name}`, async () => {
      const stream = openStream(waf.client);
      const headersReply = await exchange(stream, requestHeaders(post(contentType), false));
      assert.equal(
        headersReply.modeOverride?.requestBodyMode,
        ProcessingMode_BodySendMode.STREAMED,
      );
      const replies = await sendChunks(stream, encoder.encode(body), 7);
      assert.equal(replies.at(-1), 403, `replies: ${JSON.stringify(replies)}`);
      assert.ok(
        replies.slice(0, -1).every((reply) => reply === "requestBody"),
        "every chunk before the end is acknowledged",
      );
      assert.equal((await stream.status).code, status.OK);
    });
  }

  test("B18 acknowledges every 4-byte chunk and blocks on the empty end-of-stream chunk", async () => {
    const stream = openStream(waf.client);
    await exchange(stream, requestHeaders(post("application/json"), false));
    const replies = await sendChunks(stream, encoder.encode('{ "name": "$globals" }'), 4);
    assert.deepEqual(replies, [...Array(6).fill("requestBody"), 403]);
  });

  test("B19 blocks as soon as the limit is passed, on that chunk", async () => {
    const stream = openStream(waf.client);
    await exchange(stream, requestHeaders(post("application/json"), false));
    const body = `{ "name": "$globals", "text": "${"x".repeat(300)}" }`;
    const reply = await exchange(stream, requestBody(body, false));
    assert.equal(statusOf(reply), 403);
  });

  test("B20 a payload beyond the limit is not seen", async () => {
    const stream = openStream(waf.client);
    await exchange(stream, requestHeaders(post("application/json"), false));
    const replies = await sendChunks(
      stream,
      encoder.encode(`{ "text": "${"x".repeat(300)}", "name": "$globals" }`),
      100,
    );
    assert.ok(replies.every((reply) => reply === "requestBody"));
  });

  test("X02 a body ended by trailers is analysed at the trailers (trailer bypass closed)", async () => {
    const stream = openStream(waf.client);
    await exchange(stream, requestHeaders(post("application/json"), false));
    assert.equal(statusOf(await exchange(stream, requestBody('{ "name": ', false))), "requestBody");
    assert.equal(
      statusOf(await exchange(stream, requestBody('"$globals" }', false))),
      "requestBody",
    );
    assert.equal(statusOf(await exchange(stream, requestTrailers({ key: "value" }))), 403);
  });

  test("an early response analyses the unfinished request body first", async () => {
    const stream = openStream(waf.client);
    await exchange(stream, requestHeaders(post("application/json"), false));
    await exchange(stream, requestBody('{ "name": "$globals"', false));
    assert.equal(
      statusOf(await exchange(stream, responseHeaders({ ":status": "200" }, true))),
      403,
    );
  });

  test("a gzip request body is inflated and inspected", async () => {
    const stream = openStream(waf.client);
    await exchange(
      stream,
      requestHeaders(post("application/json", { "content-encoding": "gzip" }), false),
    );
    const replies = await sendChunks(stream, gzipSync('{ "name": "$globals" }'), 10);
    assert.equal(replies.at(-1), 403);
  });

  test("B23 a body Envoy sends without being asked (static body mode) is acknowledged", async () => {
    const stream = openStream(waf.client);
    const reply = await exchange(stream, requestHeaders(post("image/png"), false));
    assert.equal(reply.modeOverride, undefined);
    assert.equal(statusOf(await exchange(stream, requestBody("\x89PNG", false))), "requestBody");
    assert.equal(statusOf(await exchange(stream, requestBody("", true))), "requestBody");
  });

  test("a body after end_of_stream on the headers is a protocol error", async () => {
    const stream = openStream(waf.client);
    await exchange(stream, requestHeaders(post("application/json"), true));
    stream.send(requestBody("x", true));
    assert.equal((await stream.status).code, status.INVALID_ARGUMENT);
  });

  test("B24 broken JSON is still inspected as text", async () => {
    const stream = openStream(waf.client);
    await exchange(stream, requestHeaders(post("application/json"), false));
    const replies = await sendChunks(stream, encoder.encode('{"a": "$globals"'), 50, false);
    assert.equal(replies.at(-1), 403);
  });
});

describe("responses", () => {
  let waf: WafServer;
  before(async () => {
    waf = await startWafServer({
      DD_APPSEC_RULES: TEST_RULES,
      DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "256",
    });
  });
  after(() => waf.close());

  async function requestDone(path = "/", method = "GET") {
    const stream = openStream(waf.client);
    const reply = await exchange(
      stream,
      requestHeaders([
        [":method", method],
        [":scheme", "https"],
        [":authority", "datadoghq.com"],
        [":path", path],
      ]),
    );
    assert.equal(kindOf(reply), "requestHeaders");
    return stream;
  }

  test("B25 monitors-response-without-body: reply, then clean close", async () => {
    const stream = await requestDone();
    const reply = await exchange(
      stream,
      responseHeaders({ ":status": "200", test: "match-no-block-response-header" }, true),
    );
    assert.equal(kindOf(reply), "responseHeaders");
    assert.equal((await stream.status).code, status.OK);
  });

  test("B26 blocks-on-response-headers with 418", async () => {
    const stream = await requestDone("/", "OPTIONS");
    const reply = await exchange(
      stream,
      responseHeaders({ ":status": "200", test: "match-response-header" }, true),
    );
    assert.equal(statusOf(reply), 418);
  });

  test("blocks-on-response-status", async () => {
    const stream = await requestDone();
    assert.equal(
      statusOf(await exchange(stream, responseHeaders({ ":status": "555" }, true))),
      403,
    );
  });

  test("B27/B28 asks for a JSON response body and closes after its end", async () => {
    const stream = await requestDone();
    const reply = await exchange(
      stream,
      responseHeaders({ ":status": "200", "content-type": "application/json" }, false),
    );
    assert.equal(reply.modeOverride?.responseBodyMode, ProcessingMode_BodySendMode.STREAMED);
    assert.equal(kindOf(await exchange(stream, responseBody("{}", true))), "responseBody");
    assert.equal((await stream.status).code, status.OK);
  });

  const responseBodies: Array<[string, string, string]> = [
    ["JSON", "application/json", '{"message": "match-response-body"}'],
    ["XML", "application/xml", "<r>match-response-body</r>"],
    ["plain text", "text/plain", "match-response-body"],
    ["urlencoded", "application/x-www-form-urlencoded", "m=match-response-body"],
  ];
  for (const [name, contentType, body] of responseBodies) {
    test(`blocks-on-response-body: ${name}`, async () => {
      const stream = await requestDone();
      await exchange(
        stream,
        responseHeaders({ ":status": "200", "content-type": contentType }, false),
      );
      const chunks = [body.slice(0, 5), body.slice(5)];
      assert.equal(
        kindOf(await exchange(stream, responseBody(chunks[0] ?? "", false))),
        "responseBody",
      );
      assert.equal(
        kindOf(await exchange(stream, responseBody(chunks[1] ?? "", false))),
        "responseBody",
      );
      assert.equal(statusOf(await exchange(stream, responseBody("", true))), 403);
    });
  }

  test("a response body ended by trailers is analysed at the trailers", async () => {
    const stream = await requestDone();
    await exchange(
      stream,
      responseHeaders({ ":status": "200", "content-type": "text/plain" }, false),
    );
    await exchange(stream, responseBody("match-response-body", false));
    assert.equal(statusOf(await exchange(stream, responseTrailers({ "grpc-status": "0" }))), 403);
  });

  test("B33 an HTML response is not asked for: reply and close", async () => {
    const stream = await requestDone();
    const reply = await exchange(
      stream,
      responseHeaders({ ":status": "200", "content-type": "text/html" }, false),
    );
    assert.equal(reply.modeOverride, undefined);
    assert.equal((await stream.status).code, status.OK);
  });

  test("B40 response headers as the first message: INVALID_ARGUMENT", async () => {
    const stream = openStream(waf.client);
    stream.send(responseHeaders({ ":status": "200" }, true));
    assert.equal((await stream.status).code, status.INVALID_ARGUMENT);
  });

  test("response headers without :status: INVALID_ARGUMENT", async () => {
    const stream = await requestDone();
    stream.send(responseHeaders({ server: "x" }, true));
    assert.equal((await stream.status).code, status.INVALID_ARGUMENT);
  });
});

describe("observability mode", () => {
  for (const [name, env, flag] of [
    ["the processor's setting", { DD_SERVICE_EXTENSION_OBSERVABILITY_MODE: "true" }, false],
    ["Envoy's per-stream flag", {}, true],
  ] as const) {
    test(`never blocks with ${name}, and records what it would have blocked`, async (t) => {
      const waf = await startWafServer({ DD_APPSEC_RULES: TEST_RULES, ...env });
      t.after(() => waf.close());
      const stream = openStream(waf.client);
      const options = { observabilityMode: flag };
      const message = requestHeaders(
        [
          [":method", "GET"],
          [":scheme", "https"],
          [":authority", "datadoghq.com"],
          [":path", "/"],
          ["user-agent", "dd-test-scanner-log-block"],
        ],
        true,
        options,
      );
      stream.send(message);
      stream.send(responseHeaders({ ":status": "200" }, true, options));
      if (flag) {
        // Envoy ignores replies in observability mode, so none are written.
        assert.equal((await stream.status).code, status.OK);
      } else {
        const first = await stream.next();
        assert.equal(first.kind === "message" && kindOf(first.message), "requestHeaders");
        await stream.status;
      }
      const ends = waf.streamEnds();
      for (let i = 0; i < 100 && ends.length === 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      const end = waf.streamEnds().at(-1);
      assert.equal(end?.blocked, false);
      assert.equal(end?.wouldHaveBlocked, true);
      assert.deepEqual(end?.rules, ["ua0-600-56x"]);
    });
  }
});

describe("responses asked for as BUFFERED_PARTIAL (DD_SERVICE_EXTENSION_RESPONSE_BODY_MODE)", () => {
  let waf: WafServer;
  before(async () => {
    waf = await startWafServer({
      DD_APPSEC_RULES: TEST_RULES,
      DD_SERVICE_EXTENSION_RESPONSE_BODY_MODE: "buffered-partial",
    });
  });
  after(() => waf.close());

  async function responseStarted(contentType: string) {
    const stream = openStream(waf.client);
    await exchange(
      stream,
      requestHeaders([
        [":method", "GET"],
        [":scheme", "https"],
        [":authority", "datadoghq.com"],
        [":path", "/"],
      ]),
    );
    const reply = await exchange(
      stream,
      responseHeaders({ ":status": "200", "content-type": contentType }, false),
    );
    assert.equal(
      reply.modeOverride?.responseBodyMode,
      ProcessingMode_BodySendMode.BUFFERED_PARTIAL,
    );
    assert.equal(reply.modeOverride?.requestBodyMode, ProcessingMode_BodySendMode.NONE);
    return stream;
  }

  test("the one buffered message is analysed even when Envoy cut it (end_of_stream false)", async () => {
    const stream = await responseStarted("application/json");
    assert.equal(
      statusOf(
        await exchange(stream, responseBody('{"message": "match-response-body", "more": "', false)),
      ),
      403,
    );
  });

  test("a complete buffered body that is benign continues and the stream closes", async () => {
    const stream = await responseStarted("text/plain");
    assert.equal(kindOf(await exchange(stream, responseBody("all good", true))), "responseBody");
    assert.equal((await stream.status).code, status.OK);
  });

  test("a cut buffered body that is benign continues and the stream closes (nothing more will come)", async () => {
    const stream = await responseStarted("text/plain");
    assert.equal(
      kindOf(await exchange(stream, responseBody("first megabyte", false))),
      "responseBody",
    );
    assert.equal((await stream.status).code, status.OK);
  });

  test("request bodies are still streamed", async () => {
    const stream = openStream(waf.client);
    const reply = await exchange(stream, requestHeaders(post("application/json"), false));
    assert.equal(reply.modeOverride?.requestBodyMode, ProcessingMode_BodySendMode.STREAMED);
    stream.cancel();
  });
});

describe("the process-wide body memory budget (DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT)", () => {
  test("a body that would pass the budget keeps what fits and is analysed at once; every byte is given back", async () => {
    const waf = await startWafServer({
      DD_APPSEC_RULES: TEST_RULES,
      // The budget may not be below the body limit (docs/fail-safe-settings.md).
      DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "64",
      DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT: "64",
    });
    try {
      // A first upload holds most of the budget...
      const holder = openStream(waf.client);
      await exchange(holder, requestHeaders(post("text/plain"), false));
      await exchange(holder, requestBody("x".repeat(40), false));
      assert.equal(waf.bodyBudget.usedBytes, 40);
      // ...so the second one is cut in its second chunk (5 of 30 bytes fit), and analysed then.
      const second = openStream(waf.client);
      await exchange(second, requestHeaders(post("application/json"), false));
      assert.equal(
        statusOf(await exchange(second, requestBody('{"name": "$globals"', false))),
        "requestBody",
      );
      assert.equal(waf.bodyBudget.usedBytes, 59);
      assert.equal(
        statusOf(await exchange(second, requestBody(', "pad": "xxxxxxxxxxxxxxxxxx"}', false))),
        403,
      );
      assert.equal(waf.bodyBudget.usedBytes, 40, "the cut body released its bytes");
      holder.cancel();
      await holder.status;
      for (let i = 0; i < 100 && waf.bodyBudget.usedBytes > 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(waf.bodyBudget.usedBytes, 0, "the cancelled stream released its bytes");
      const end = waf.streamEnds().find((line) => Array.isArray(line.bodyNotes));
      assert.deepEqual(end?.bodyNotes, ["request:memory-budget"]);
    } finally {
      await waf.close();
    }
  });
});
