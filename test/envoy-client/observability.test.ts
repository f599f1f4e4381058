/** Observability (async) mode: send and go (docs/envoy-filter.md#observability-mode). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ProcessingMode_BodySendMode as Body } from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import { filterSettings } from "../support/envoy/index.ts";
import { continueFor, filterConfig, immediate, sleep } from "./fake-processor.ts";
import { GET, harness, post } from "./harness.ts";

describe("observability mode", () => {
  test("never waits: a silent, slow server does not delay the exchange", async () => {
    const h = await harness(
      async () => {
        await sleep(500);
        return "silent" as const;
      },
      { observabilityMode: true, messageTimeoutMs: 10, deferredCloseTimeoutMs: 300 },
    );
    const started = performance.now();
    const result = await h.send(GET);
    assert.ok(performance.now() - started < 200, "the exchange did not wait for the server");
    assert.equal(result.status, 200);
    assert.equal(result.failure, undefined, "message_timeout does not apply");
    assert.deepEqual(result.sent, ["requestHeaders", "responseHeaders"]);
  });

  test("never applies a verdict: an ImmediateResponse and mutations are ignored", async () => {
    const h = await harness(
      (m) =>
        m.request.case === "requestHeaders"
          ? immediate(403, "blocked")
          : continueFor(m, { set: [["x-waf", "1"]] }),
      { observabilityMode: true, deferredCloseTimeoutMs: 300 },
    );
    const result = await h.send(GET);
    assert.equal(result.status, 200);
    assert.equal(result.reachedUpstream, true);
    assert.equal(
      result.headers.find(([k]) => k === "x-waf"),
      undefined,
    );
  });

  test("messages carry observability_mode and STREAMED bodies go without waiting; mode_override is never read", async () => {
    const h = await harness(
      (m) =>
        continueFor(
          m,
          m.request.case === "requestHeaders"
            ? { modeOverride: { responseBodyMode: Body.STREAMED } }
            : {},
        ),
      {
        observabilityMode: true,
        allowModeOverride: true,
        mode: { requestBodyMode: Body.STREAMED },
        deferredCloseTimeoutMs: 300,
      },
    );
    const result = await h.send(post("0123456789", { chunkSize: 5 }), () => ({
      status: 200,
      body: "response",
    }));
    assert.deepEqual(result.sent, [
      "requestHeaders",
      "requestBody",
      "requestBody",
      "responseHeaders",
    ]);
    await result.streamEnd;
    assert.ok(h.fake.streams[0]?.every((m) => m.observabilityMode));
  });

  test("the stream outlives the exchange until deferred_close_timeout, then Envoy resets it", async () => {
    const h = await harness(() => "silent", {
      observabilityMode: true,
      deferredCloseTimeoutMs: 150,
    });
    const result = await h.send(GET);
    const started = performance.now();
    const end = await result.streamEnd;
    const elapsed = performance.now() - started;
    assert.equal(end?.by, "envoy");
    assert.ok(elapsed >= 120, `closed after ${elapsed} ms`);
    await sleep(50); // the server sees the reset after the client does
    assert.deepEqual(h.fake.clientEnds, ["cancelled"], "no half-close before the deferred close");
  });

  test("a buffered body mode is rejected, as Envoy's config validation does", () => {
    assert.throws(
      () =>
        filterSettings(
          filterConfig({ observabilityMode: true, mode: { requestBodyMode: Body.BUFFERED } }),
        ),
      /STREAMED or NONE/,
    );
  });
});
