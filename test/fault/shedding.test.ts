/**
 * Load shedding: a new stream is refused with RESOURCE_EXHAUSTED, before any WAF work, when the
 * process has too many streams open or new streams queue past the limit turn after turn; streams
 * already open are served, a one-off burst refuses nothing, and new streams are admitted again as
 * soon as the backlog is gone.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Inspector, PASS_THROUGH_INSPECTOR } from "../../processor/inspector/index.ts";
import { createAdmission } from "../../processor/server/index.ts";
import { Generators } from "../bench/generators.ts";
import { filterConfig } from "../envoy-client/fake-processor.ts";
import { createEnvoyFilter } from "../support/envoy/index.ts";
import { servesBenign, waitFor } from "../support/fault.ts";
import { createClient, exchange, openStream, status } from "../support/grpc-client.ts";
import { startTestServer } from "../support/in-process.ts";
import { getHeaders, kindOf, requestHeaders } from "../support/messages.ts";
import { startWafServer, TEST_RULES } from "../support/waf-server.ts";

test("over the open-stream bound: refused before any WAF work, admitted again after", async (t) => {
  const admission = createAdmission({ maxQueueDelayMs: 0, maxOpenStreams: 5 });
  t.after(() => admission.stop());
  const waf = await startWafServer(
    { DD_APPSEC_RULES: TEST_RULES },
    { admission, idleTimeoutMs: 60_000 },
  );
  t.after(() => waf.close());
  const open = Array.from({ length: 5 }, () => openStream(waf.client));
  t.after(() => {
    for (const stream of open) stream.cancel();
  });
  for (const stream of open)
    assert.equal(
      kindOf(await exchange(stream, requestHeaders(getHeaders("/held"), false))),
      "requestHeaders",
    );
  const ends = waf.streamEnds().length;
  const refused = openStream(waf.client);
  refused.send(
    requestHeaders(getHeaders("/", { "user-agent": "dd-test-scanner-log-block" }), true),
  );
  const final = await refused.status;
  assert.equal(final.code, status.RESOURCE_EXHAUSTED);
  assert.match(final.details, /5 streams open, limit 5/);
  assert.equal(waf.streamEnds().length, ends, "no session was created for the refused stream");
  assert.equal(admission.refused, 1);
  // The open ones are still served; once one ends, a new stream is admitted.
  open[0]?.cancel();
  await open[0]?.status;
  await waitFor(() => waf.server.idleStreams.size === 4, 2000, "one stream closed");
  await servesBenign(waf.client);
});

test("Envoy's view of a refusal: its failure mode at once, open or closed, the message timeout never waited for", async (t) => {
  const admission = createAdmission({ maxQueueDelayMs: 0, maxOpenStreams: 1 });
  t.after(() => admission.stop());
  const waf = await startWafServer({ DD_APPSEC_RULES: TEST_RULES }, { admission });
  t.after(() => waf.close());
  const held = openStream(waf.client);
  t.after(() => held.cancel());
  await exchange(held, requestHeaders(getHeaders("/held"), false));
  const attack = {
    method: "GET",
    path: "/",
    headers: { host: "app.example.com", "user-agent": "dd-test-scanner-log-block" },
  };
  for (const failureModeAllow of [true, false]) {
    // A message timeout of 10 s: an answer within it can only be the refusal.
    const filter = createEnvoyFilter(filterConfig({ failureModeAllow, messageTimeoutMs: 10_000 }), {
      target: waf.server.target,
    });
    t.after(() => filter.close());
    const result = await filter.exchange({
      request: attack,
      upstream: async () => ({ status: 200, body: "ok" }),
    });
    assert.equal(result.failure, "error");
    assert.equal(result.status, failureModeAllow ? 200 : 500);
    assert.equal(result.failedOpen, failureModeAllow);
    assert.equal(result.reachedUpstream, failureModeAllow, "uninspected only when failing open");
  }
  assert.equal(admission.refused, 2);
});

/** An inspector that spends `ms` of CPU on each exchange it opens, as a costly WAF run would. */
function costly(ms: number): Inspector {
  return {
    open: (info) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
      return PASS_THROUGH_INSPECTOR.open(info);
    },
  };
}

test("a one-off burst longer than the limit refuses nothing: only a backlog that persists across loop turns does", async (t) => {
  const admission = createAdmission({ maxQueueDelayMs: 200, maxOpenStreams: 0 });
  t.after(() => admission.stop());
  const server = await startTestServer({ inspector: costly(25), admission });
  t.after(() => server.close());
  const client = createClient(server.target);
  t.after(() => client.close());
  await servesBenign(client);
  // 20 streams in one write: the server meets them in one loop turn of about 500 ms.
  const streams = Array.from({ length: 20 }, () => openStream(client));
  const replies = await Promise.all(
    streams.map((stream) => exchange(stream, requestHeaders(getHeaders("/burst"), true))),
  );
  assert.deepEqual(
    replies.map(kindOf),
    streams.map(() => "requestHeaders"),
  );
  assert.equal(admission.refused, 0);
});

test("past saturation: new streams refused with RESOURCE_EXHAUSTED, the others served, all admitted again after", async (t) => {
  const admission = createAdmission({ maxQueueDelayMs: 50, maxOpenStreams: 0 });
  t.after(() => admission.stop());
  // 4 ms of CPU per stream: under 250 streams/s, whatever the machine.
  const server = await startTestServer({ inspector: costly(4), admission, logLevel: "info" });
  t.after(() => server.close());
  // The load comes from another process, so it keeps arriving while this event loop is busy.
  const generators = await Generators.start({
    target: server.target,
    scenario: "benign",
    processes: 1,
    connections: 2,
    chunkSize: 16_384,
    timeoutMs: 30_000,
    verifyReplies: 0,
    cpus: undefined,
  });
  t.after(() => generators.exit());
  await generators.run({ kind: "open", rate: 1000, arrival: "uniform", maxInFlight: 10_000 });
  await generators.mark();
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const [window] = await generators.stop();
  await generators.drain(30_000);
  assert.ok(window, "the generator reported");
  assert.ok(window.shed > 0, `streams refused at 4x saturation (served ${window.streams})`);
  assert.ok(window.streams > 0, `streams served while shedding (refused ${window.shed})`);
  assert.equal(window.errors, window.shed, `only refusals failed: ${window.firstError}`);
  assert.ok(admission.refused >= window.shed, "every refusal the client saw was counted");
  assert.match(window.firstError, /RESOURCE_EXHAUSTED|queued \d+ ms in this worker, limit 50 ms/);
  // Once the backlog is gone (the process counts as backlogged until its loop has been on time
  // for 100 ms), new streams are admitted: 20 in a row, within a few seconds.
  const client = createClient(server.target);
  t.after(() => client.close());
  const deadline = performance.now() + 5000;
  let inARow = 0;
  while (inARow < 20) {
    assert.ok(performance.now() < deadline, `admitted again: ${inARow} in a row after 5 s`);
    const stream = openStream(client);
    const reply = await exchange(stream, requestHeaders(getHeaders("/after"), true)).catch(
      () => undefined,
    );
    inARow = reply !== undefined && kindOf(reply) === "requestHeaders" ? inARow + 1 : 0;
    if (inARow === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
});
