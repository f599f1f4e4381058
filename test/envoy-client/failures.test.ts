/**
 * The error path: message_timeout, non-OK closes, spurious and wrong-kind replies, an unreachable
 * server, and the clean close that means "continue without me"
 * (docs/envoy-filter.md#ending-and-errors).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ProcessingMode_BodySendMode as Body } from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import { createEnvoyFilter } from "../support/envoy/index.ts";
import { status } from "../support/grpc-client.ts";
import { continueFor, filterConfig, moreTime, sleep } from "./fake-processor.ts";
import { GET, harness, post } from "./harness.ts";

describe("message_timeout", () => {
  const slow = () => "silent" as const;

  test("fail-closed: 504 after the message timeout, the upstream is never called", async () => {
    const h = await harness(slow, { messageTimeoutMs: 50, failureModeAllow: false });
    const started = performance.now();
    const result = await h.send(GET);
    const elapsed = performance.now() - started;
    assert.equal(result.status, 504);
    assert.equal(result.failure, "timeout");
    assert.equal(result.localReply, "failure");
    assert.equal(result.reachedUpstream, false);
    assert.ok(elapsed >= 45 && elapsed < 1000, `took ${elapsed} ms`);
    assert.equal((await result.streamEnd)?.by, "envoy", "Envoy resets the stream");
  });

  test("fail-open: the request goes on unmodified and the server is not asked again", async () => {
    const h = await harness(slow, { messageTimeoutMs: 50, failureModeAllow: true });
    const result = await h.send(GET);
    assert.equal(result.status, 200);
    assert.equal(result.failure, "timeout");
    assert.equal(result.failedOpen, true);
    assert.equal(result.reachedUpstream, true);
    assert.deepEqual(result.sent, ["requestHeaders"], "no response headers after giving up");
  });

  test("applies per message: each chunk gets a fresh timer", async () => {
    const h = await harness(
      async (m) => {
        await sleep(30);
        return continueFor(m);
      },
      // A wide margin per message (30 of 150 ms) so a loaded machine's timer jitter cannot fail
      // a message; the whole exchange (6 × 30 ms) still exceeds one timer.
      { messageTimeoutMs: 150, mode: { requestBodyMode: Body.STREAMED } },
    );
    const result = await h.send(post("x".repeat(40), { chunkSize: 10 }));
    assert.equal(
      result.status,
      200,
      "6 × 30 ms > 150 ms, but each message is within its own timer",
    );
    assert.equal(result.failure, undefined);
    assert.equal(result.messagesSent, 6);
  });

  test("a timeout in the response phase fails closed with 504 too", async () => {
    const h = await harness(
      (m) => (m.request.case === "responseHeaders" ? "silent" : continueFor(m)),
      { messageTimeoutMs: 50 },
    );
    const result = await h.send(GET);
    assert.equal(result.status, 504);
    assert.equal(result.reachedUpstream, true);
  });

  test("override_message_timeout extends the timer up to max_message_timeout", async () => {
    const script = async (m: Parameters<typeof continueFor>[0]) => {
      if (m.request.case !== "requestHeaders") return continueFor(m);
      return [moreTime(300)];
    };
    const extended = await harness(
      async (m, i) => {
        if (i === 0) setTimeout(() => {}, 0);
        return script(m);
      },
      { messageTimeoutMs: 50, maxMessageTimeoutMs: 500 },
    );
    // The first reply only asks for time; the real one never comes, so the extended timer fires.
    const started = performance.now();
    const result = await extended.send(GET);
    assert.equal(result.status, 504);
    assert.ok(performance.now() - started >= 280, "the timer was extended to 300 ms");

    const refused = await harness(script, { messageTimeoutMs: 50 });
    const began = performance.now();
    const second = await refused.send(GET);
    assert.equal(second.status, 504);
    assert.ok(
      performance.now() - began < 250,
      "without max_message_timeout the override is ignored",
    );
  });
});

describe("errors", () => {
  test("a non-OK close fails closed with 500", async () => {
    const h = await harness(() => ({ close: status.INTERNAL }));
    const result = await h.send(GET);
    assert.equal(result.status, 500);
    assert.equal(result.failure, "error");
    assert.equal(result.reachedUpstream, false);
  });

  test("a non-OK close fails open when failure_mode_allow is true", async () => {
    const h = await harness(() => ({ close: status.UNAVAILABLE }), { failureModeAllow: true });
    const result = await h.send(GET);
    assert.equal(result.status, 200);
    assert.equal(result.failedOpen, true);
    assert.equal(result.reachedUpstream, true);
  });

  test("status_on_error replaces 500 (not for timeouts)", async () => {
    const h = await harness(() => ({ close: status.INTERNAL }), {}, { statusOnError: 503 });
    assert.equal((await h.send(GET)).status, 503);
  });

  test("a reply of the wrong kind is spurious: 500", async () => {
    const h = await harness((m) =>
      m.request.case === "requestHeaders"
        ? continueFor({ ...m, request: { case: "responseHeaders", value: m.request.value } })
        : continueFor(m),
    );
    const result = await h.send(GET);
    assert.equal(result.status, 500);
    assert.equal(result.failure, "spurious");
  });

  test("a second reply to one message is spurious: 500", async () => {
    const h = await harness((m) => [continueFor(m), continueFor(m)]);
    const result = await h.send(GET);
    assert.equal(result.status, 500);
    assert.equal(result.failure, "spurious");
  });

  test("an unreachable server: 500 when failing closed, the request goes on when failing open", async (t) => {
    for (const failureModeAllow of [false, true]) {
      const filter = createEnvoyFilter(filterConfig({ failureModeAllow, messageTimeoutMs: 2000 }), {
        target: "127.0.0.1:1",
      });
      t.after(() => filter.close());
      const result = await filter.exchange({
        request: GET,
        upstream: async () => ({ status: 200, body: "ok" }),
      });
      assert.equal(result.status, failureModeAllow ? 200 : 500);
      assert.equal(result.failure, "error");
    }
  });
});

describe("clean close", () => {
  test("an OK close instead of a reply means continue without the server", async () => {
    const h = await harness(() => ({ close: status.OK }));
    const result = await h.send(post("body"), () => ({ status: 201, body: "created" }));
    assert.equal(result.status, 201);
    assert.equal(result.failure, undefined);
    assert.equal(result.serverClosed, true);
    assert.equal(result.reachedUpstream, true);
    assert.deepEqual(result.sent, ["requestHeaders"], "the response is never sent to the server");
  });

  test("a close after the request headers reply keeps the mutations already applied", async () => {
    const h = await harness((m) =>
      m.request.case === "requestHeaders"
        ? [continueFor(m, { set: [["x-waf", "1"]] })]
        : { close: status.OK },
    );
    const result = await h.send(GET);
    assert.equal(result.status, 200);
    assert.equal(result.serverClosed, true);
    assert.deepEqual(
      h.upstreamCalls[0]?.headers.find(([k]) => k === "x-waf"),
      ["x-waf", "1"],
    );
  });
});
