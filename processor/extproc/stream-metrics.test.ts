/** The stream loop counts every stream once, by how it ended, and the open streams. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { getHeaders, requestHeaders, responseHeaders } from "../../test/support/messages.ts";
import { type Inspector, PASS_THROUGH_INSPECTOR } from "../inspector/index.ts";
import type { StreamMetrics, StreamResult } from "../metrics/index.ts";
import { openStream } from "./process-stream.ts";

function recorder() {
  const results: StreamResult[] = [];
  let open = 0;
  const metrics: StreamMetrics = {
    streamOpened: () => {
      open += 1;
    },
    streamClosed: (result) => {
      open -= 1;
      results.push(result);
    },
    streamRefused: () => assert.fail("the stream loop never refuses a stream"),
    protocolError: () => {},
  };
  return { metrics, results, open: () => open };
}

const port = { send: () => {}, finish: () => {}, fail: () => {} };
const context = { metadata: () => undefined };

const answering = (details: string): Inspector => ({
  open: (info) => ({
    ...PASS_THROUGH_INSPECTOR.open(info),
    requestHeaders: () => ({
      kind: "immediate",
      status: 403,
      headers: [],
      body: new Uint8Array(),
      details,
    }),
  }),
});

test("passed, blocked, redirected, error and cancelled streams are each counted once", async () => {
  const { metrics, results, open } = recorder();
  const passed = openStream(context, PASS_THROUGH_INSPECTOR, port, metrics);
  assert.equal(open(), 1);
  await passed.receive(requestHeaders(getHeaders(), true));
  await passed.receive(responseHeaders({ ":status": "200" }, true));
  passed.halfClose();
  await openStream(context, answering("aap_blocked"), port, metrics).receive(
    requestHeaders(getHeaders(), true),
  );
  await openStream(context, answering("aap_redirected"), port, metrics).receive(
    requestHeaders(getHeaders(), true),
  );
  // Response headers before request headers: a protocol error.
  await openStream(context, PASS_THROUGH_INSPECTOR, port, metrics).receive(
    responseHeaders({ ":status": "200" }, true),
  );
  const cancelled = openStream(context, PASS_THROUGH_INSPECTOR, port, metrics);
  cancelled.cancel();
  cancelled.cancel();
  assert.deepEqual(results, ["passed", "blocked", "redirected", "error", "cancelled"]);
  assert.equal(open(), 0);
});
