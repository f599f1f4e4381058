/**
 * Load shedding: a new stream is refused with RESOURCE_EXHAUSTED, before any WAF work, when the
 * process has too many streams open or its event loop lags; streams already open are served, and
 * new ones are admitted again as soon as the signal clears.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAdmission } from "../../processor/server/index.ts";
import { servesBenign, waitFor } from "../support/fault.ts";
import { exchange, openStream, status } from "../support/grpc-client.ts";
import { getHeaders, kindOf, requestHeaders } from "../support/messages.ts";
import { startWafServer, TEST_RULES } from "../support/waf-server.ts";

test("over the open-stream bound: refused before any WAF work, admitted again after", async (t) => {
  const admission = createAdmission({ maxEventLoopDelayMs: 0, maxOpenStreams: 5 });
  const waf = await startWafServer(
    { DD_APPSEC_RULES: TEST_RULES },
    { admission, idleTimeoutMs: 60_000 },
  );
  t.after(() => waf.close());
  const open = Array.from({ length: 5 }, () => openStream(waf.client));
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
  for (const stream of open.slice(1)) stream.cancel();
});

test("event-loop delay over the limit: a share refused at once, all admitted again once the loop catches up", async (t) => {
  const admission = createAdmission({ maxEventLoopDelayMs: 50, maxOpenStreams: 0 });
  const waf = await startWafServer(
    { DD_APPSEC_RULES: TEST_RULES },
    { admission, idleTimeoutMs: 60_000 },
  );
  t.after(() => waf.close());
  await servesBenign(waf.client);
  // The server shares this process's event loop: block it as an overload would.
  const until = performance.now() + 400;
  while (performance.now() < until);
  await waitFor(() => admission.delayMs > 50, 1000, "delay seen");
  const refused = openStream(waf.client);
  refused.send(requestHeaders(getHeaders("/"), true));
  const final = await refused.status;
  assert.equal(final.code, status.RESOURCE_EXHAUSTED);
  assert.match(
    final.details,
    /admitting \d+% of new streams \(event loop delay \d+ ms, limit 50 ms\)/,
  );
  await waitFor(() => admission.share === 1, 3000, "every new stream admitted again");
  await servesBenign(waf.client);
});
