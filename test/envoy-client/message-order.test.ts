/**
 * Message order, body modes, trailers and mode_override (docs/envoy-filter.md).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ProcessingMode_BodySendMode as Body,
  ProcessingMode_HeaderSendMode as Send,
} from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import { headerValue } from "../support/envoy/index.ts";
import { continueFor, receivedHeader, sleep } from "./fake-processor.ts";
import { GET, harness, post } from "./harness.ts";

const wantRequestBody = { requestBodyMode: Body.STREAMED };

describe("message order", () => {
  test("a GET sends request headers (end_of_stream) then response headers, with initial_metadata", async () => {
    const h = await harness((m) => continueFor(m));
    const result = await h.send(GET);
    assert.equal(result.status, 200);
    assert.equal(result.text, "ok");
    assert.deepEqual(result.sent, ["requestHeaders", "responseHeaders"]);
    assert.equal(result.repliesReceived, 2);
    const [reqHeaders, resHeaders] = h.fake.streams[0] ?? [];
    assert.equal(
      reqHeaders?.request.case === "requestHeaders" && reqHeaders.request.value.endOfStream,
      true,
    );
    assert.equal(receivedHeader(reqHeaders, ":method"), "GET");
    assert.equal(receivedHeader(reqHeaders, ":authority"), "app.example.com");
    assert.equal(receivedHeader(reqHeaders, ":path"), "/");
    assert.equal(receivedHeader(resHeaders, ":status"), "200");
    assert.deepEqual(h.fake.metadata[0]?.get("x-datadog-envoy-integration"), ["1"]);
    assert.equal(h.fake.streams.length, 1, "one stream per exchange");
    const end = await result.streamEnd;
    assert.equal(end?.code, 0);
    await sleep(50); // the server sees the end after the client does
    assert.deepEqual(
      h.fake.clientEnds,
      ["half-close"],
      "Envoy half-closes when the exchange is over",
    );
  });

  test("header values travel in raw_value only", async () => {
    const h = await harness((m) => continueFor(m));
    await h.send(GET);
    const header = h.fake.streams[0]?.[0]?.request.value;
    assert.ok(header && "headers" in header);
    for (const value of header.headers?.headers ?? []) {
      assert.equal(value.value, "", `${value.key} has a value`);
      assert.ok(value.rawValue.length > 0, `${value.key} lacks raw_value`);
    }
  });

  test("body mode NONE never sends the body; request headers say a body follows", async () => {
    const h = await harness((m) => continueFor(m));
    const result = await h.send(post("hello"));
    assert.deepEqual(result.sent, ["requestHeaders", "responseHeaders"]);
    const first = h.fake.streams[0]?.[0]?.request;
    assert.equal(first?.case === "requestHeaders" && first.value.endOfStream, false);
    assert.equal(new TextDecoder().decode(h.upstreamCalls[0]?.body), "hello");
    assert.equal(
      headerValue(h.upstreamCalls[0]?.headers ?? [], "content-length"),
      "5",
      "kept with NONE",
    );
  });
});

describe("mode_override", () => {
  const overrideScript = (m: Parameters<typeof continueFor>[0]) =>
    continueFor(m, m.request.case === "requestHeaders" ? { modeOverride: wantRequestBody } : {});

  test("is honoured when allow_mode_override is true: the body is STREAMED, one message per chunk", async () => {
    const h = await harness(overrideScript, { allowModeOverride: true });
    const result = await h.send(post("a".repeat(10), { chunkSize: 4 }));
    assert.deepEqual(result.sent, [
      "requestHeaders",
      "requestBody",
      "requestBody",
      "requestBody",
      "responseHeaders",
    ]);
    const bodies = (h.fake.streams[0] ?? []).filter((m) => m.request.case === "requestBody");
    assert.deepEqual(
      bodies.map((m) =>
        m.request.case === "requestBody"
          ? [m.request.value.body.length, m.request.value.endOfStream]
          : [],
      ),
      [
        [4, false],
        [4, false],
        [2, true],
      ],
    );
    assert.equal(h.upstreamCalls[0]?.chunked, true);
    assert.equal(
      headerValue(h.upstreamCalls[0]?.headers ?? [], "content-length"),
      undefined,
      "STREAMED removes Content-Length",
    );
    assert.equal(new TextDecoder().decode(h.upstreamCalls[0]?.body), "a".repeat(10));
  });

  test("is ignored when allow_mode_override is false", async () => {
    const h = await harness(overrideScript, { allowModeOverride: false });
    const result = await h.send(post("a".repeat(10), { chunkSize: 4 }));
    assert.deepEqual(result.sent, ["requestHeaders", "responseHeaders"]);
  });

  test("is ignored on a body reply", async () => {
    const h = await harness(
      (m) =>
        continueFor(
          m,
          m.request.case === "requestBody"
            ? { modeOverride: { responseBodyMode: Body.STREAMED } }
            : {},
        ),
      { allowModeOverride: true, mode: { requestBodyMode: Body.BUFFERED } },
    );
    const result = await h.send(post("req"), () => ({ status: 200, body: "response body" }));
    assert.deepEqual(result.sent, ["requestHeaders", "requestBody", "responseHeaders"]);
  });

  test("replaces the modes of both directions (DEFAULT trailers mean SKIP)", async () => {
    const h = await harness(
      (m) =>
        continueFor(
          m,
          m.request.case === "requestHeaders" ? { modeOverride: wantRequestBody } : {},
        ),
      {
        allowModeOverride: true,
        mode: { responseBodyMode: Body.BUFFERED, requestTrailerMode: Send.SEND },
      },
    );
    const result = await h.send(post("x", { trailers: { "x-checksum": "1" } }), () => ({
      status: 200,
      body: "resp",
    }));
    assert.deepEqual(result.sent, ["requestHeaders", "requestBody", "responseHeaders"]);
  });
});

describe("body modes", () => {
  test("BUFFERED sends the whole body in one message and keeps Content-Length", async () => {
    const h = await harness((m) => continueFor(m), { mode: { requestBodyMode: Body.BUFFERED } });
    const result = await h.send(post("b".repeat(100), { chunkSize: 10 }));
    assert.deepEqual(result.sent, ["requestHeaders", "requestBody", "responseHeaders"]);
    const body = h.fake.streams[0]?.[1]?.request;
    assert.equal(body?.case === "requestBody" && body.value.body.length, 100);
    assert.equal(body?.case === "requestBody" && body.value.endOfStream, true);
    assert.equal(headerValue(h.upstreamCalls[0]?.headers ?? [], "content-length"), "100");
  });

  test("BUFFERED over the buffer limit is a 413 the server never hears of", async () => {
    const h = await harness(
      (m) => continueFor(m),
      { mode: { requestBodyMode: Body.BUFFERED } },
      { bufferLimitBytes: 64 },
    );
    const result = await h.send(post("c".repeat(65)));
    assert.equal(result.status, 413);
    assert.equal(result.localReply, "buffer-limit");
    assert.equal(result.reachedUpstream, false);
    assert.deepEqual(result.sent, ["requestHeaders"]);
  });

  test("BUFFERED response over the limit is a 500", async () => {
    const h = await harness(
      (m) => continueFor(m),
      { mode: { responseBodyMode: Body.BUFFERED } },
      { bufferLimitBytes: 8 },
    );
    const result = await h.send(GET, () => ({ status: 200, body: "0123456789" }));
    assert.equal(result.status, 500);
    assert.equal(result.reachedUpstream, true);
  });

  test("BUFFERED_PARTIAL sends the first limit bytes (end_of_stream false) and lets the rest through", async () => {
    const h = await harness(
      (m) => continueFor(m),
      { mode: { requestBodyMode: Body.BUFFERED_PARTIAL } },
      { bufferLimitBytes: 4 },
    );
    const result = await h.send(post("0123456789"));
    assert.equal(result.status, 200);
    const body = h.fake.streams[0]?.[1]?.request;
    assert.equal(body?.case === "requestBody" && new TextDecoder().decode(body.value.body), "0123");
    assert.equal(body?.case === "requestBody" && body.value.endOfStream, false);
    assert.equal(new TextDecoder().decode(h.upstreamCalls[0]?.body), "0123456789");
    assert.equal(h.upstreamCalls[0]?.chunked, true);
  });

  test("an empty end-of-stream chunk closes a STREAMED body when asked", async () => {
    const h = await harness((m) => continueFor(m), { mode: { requestBodyMode: Body.STREAMED } });
    const result = await h.send(post("abc", { emptyEndChunk: true }));
    const bodies = (h.fake.streams[0] ?? []).flatMap((m) =>
      m.request.case === "requestBody"
        ? [[m.request.value.body.length, m.request.value.endOfStream]]
        : [],
    );
    assert.deepEqual(bodies, [
      [3, false],
      [0, true],
    ]);
    assert.equal(result.status, 200);
  });
});

describe("trailers", () => {
  test("are sent only with trailer mode SEND, and end the body", async () => {
    const h = await harness((m) => continueFor(m), {
      mode: { requestBodyMode: Body.STREAMED, requestTrailerMode: Send.SEND },
    });
    const result = await h.send(post("abc", { trailers: { "x-sum": "1" } }));
    assert.deepEqual(result.sent, [
      "requestHeaders",
      "requestBody",
      "requestTrailers",
      "responseHeaders",
    ]);
    const body = h.fake.streams[0]?.[1]?.request;
    assert.equal(
      body?.case === "requestBody" && body.value.endOfStream,
      false,
      "trailers follow, so no EOS on the body",
    );
  });

  test("with trailer mode SKIP the server never sees the end of the body", async () => {
    const h = await harness((m) => continueFor(m), { mode: { requestBodyMode: Body.STREAMED } });
    const result = await h.send(post("abc", { trailers: { "x-sum": "1" } }));
    assert.deepEqual(result.sent, ["requestHeaders", "requestBody", "responseHeaders"]);
    const body = h.fake.streams[0]?.[1]?.request;
    assert.equal(body?.case === "requestBody" && body.value.endOfStream, false);
    assert.deepEqual(
      h.upstreamCalls[0]?.trailers,
      [["x-sum", "1"]],
      "trailers still reach the upstream",
    );
  });
});
