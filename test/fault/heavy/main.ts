/**
 * Heavy fault variants (`npm run fault:heavy`), not run in CI: prints figures, asserts only that
 * every stream was answered. 10,000 concurrent streams on one connection, and a 1 GiB streamed
 * body, on an in-process WAF server; heap before, at the peak and after.
 * `npm run fault:heavy -- overload` runs `overload.ts` instead (150% of saturation, recovery), and
 * `npm run fault:heavy -- steady` runs `steady.ts` (10 minutes at half of saturation).
 */
if (process.argv[2] === "overload" || process.argv[2] === "steady") {
  await import(`./${process.argv[2]}.ts`);
  process.exit(0);
}

import { servesBenign, settledHeapBytes } from "../../support/fault.ts";
import { createClient, exchange, openStream } from "../../support/grpc-client.ts";
import {
  getHeaders,
  kindOf,
  requestBody,
  requestHeaders,
  responseHeaders,
} from "../../support/messages.ts";
import { startWafServer, TEST_RULES } from "../../support/waf-server.ts";

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

const waf = await startWafServer({ DD_APPSEC_RULES: TEST_RULES }, { idleTimeoutMs: 600_000 });
await servesBenign(waf.client);
waf.forget();

{
  const before = await settledHeapBytes();
  const client = createClient(waf.server.target);
  const started = performance.now();
  const streams = Array.from({ length: 10_000 }, () => openStream(client));
  const replies = await Promise.all(
    streams.map((s) => exchange(s, requestHeaders(getHeaders("/c"), true), 300_000)),
  );
  const answered = replies.filter((r) => kindOf(r) === "requestHeaders").length;
  const peak = process.memoryUsage().heapUsed;
  const elapsed = performance.now() - started;
  for (const s of streams) s.cancel();
  await Promise.all(streams.map((s) => s.status));
  client.close();
  waf.forget();
  const afterHeap = await settledHeapBytes();
  console.log(
    `10,000 streams on one connection: ${answered} answered in ${(elapsed / 1000).toFixed(1)} s; heap ${mib(before)} -> ${mib(peak)} peak -> ${mib(afterHeap)} after; open streams after: ${waf.server.idleStreams.size}`,
  );
}

{
  const before = await settledHeapBytes();
  const stream = openStream(waf.client);
  const headers = getHeaders("/upload", { "content-type": "application/octet-stream" });
  headers[0] = [":method", "POST"];
  const started = performance.now();
  await exchange(stream, requestHeaders(headers, false));
  const chunk = Buffer.alloc(1 * MiB, 0x61);
  let peakRss = 0;
  for (let i = 0; i < 1024; i++) {
    await exchange(stream, requestBody(chunk, i === 1023), 60_000);
    if (i % 64 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  await exchange(stream, responseHeaders({ ":status": "200" }));
  stream.end();
  await stream.status;
  const elapsed = performance.now() - started;
  waf.forget();
  console.log(
    `1 GiB streamed body: ${(1024 / (elapsed / 1000)).toFixed(0)} MiB/s; heap ${mib(before)} -> ${mib(await settledHeapBytes())} after; peak RSS ${mib(peakRss)}; body budget in use after: ${waf.bodyBudget.used}`,
  );
}

await waf.close();
