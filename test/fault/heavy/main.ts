/**
 * Heavy fault variants (`npm run fault:heavy`), not run in CI: prints figures, asserts only that
 * every stream was answered. On the real processor process (one worker), whose RSS is read from
 * /proc before, at the peak (sampled every 100 ms) and after: 10,000 concurrent streams on one
 * connection, then a 1 GiB streamed body.
 * `npm run fault:heavy -- overload` runs `overload.ts` instead (150% of saturation, recovery), and
 * `npm run fault:heavy -- steady` runs `steady.ts` (10 minutes at half of saturation).
 */
import { blocksAttack, rssBytes, servesBenign } from "../../support/fault.ts";
import { createClient, exchange, openStream } from "../../support/grpc-client.ts";
import {
  getHeaders,
  kindOf,
  requestBody,
  requestHeaders,
  responseHeaders,
} from "../../support/messages.ts";
import { startProcessor } from "../../support/processor-process.ts";
import { TEST_RULES } from "../../support/waf-server.ts";

if (process.argv[2] === "overload" || process.argv[2] === "steady") {
  await import(`./${process.argv[2]}.ts`);
  process.exit(0);
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const processor = await startProcessor({
  DD_SERVICE_EXTENSION_TLS: "false",
  DD_APPSEC_RULES: TEST_RULES,
  DD_APPSEC_WAF_TIMEOUT: "1s",
  DD_SERVICE_EXTENSION_SHED_QUEUE_DELAY: "0",
  DD_SERVICE_EXTENSION_LOG_LEVEL: "info",
});
const pid = processor.child.pid ?? 0;
const target = `127.0.0.1:${processor.grpcPort}`;

/** Runs `work`, sampling the processor's RSS; prints before, peak and 2 s after. */
async function measured(name: string, work: () => Promise<string>): Promise<void> {
  const before = rssBytes(pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, 100);
  const started = performance.now();
  let what: string;
  try {
    what = await work();
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  await sleep(2000);
  console.log(
    `${name}: ${what} in ${seconds.toFixed(1)} s; processor RSS ${mib(before)} before, ${mib(peak)} peak, ${mib(rssBytes(pid))} after`,
  );
}

const warm = createClient(target);
try {
  await servesBenign(warm);
  // Twice: the second round shows whether what the first left behind grows.
  for (const round of [1, 2])
    await measured(`10,000 concurrent streams on one connection (round ${round})`, async () => {
      const client = createClient(target);
      try {
        const streams = Array.from({ length: 10_000 }, () => openStream(client));
        const replies = await Promise.all(
          streams.map((s) => exchange(s, requestHeaders(getHeaders("/c"), true), 300_000)),
        );
        const answered = replies.filter((r) => kindOf(r) === "requestHeaders").length;
        for (const s of streams) s.cancel();
        await Promise.all(streams.map((s) => s.status));
        return `${answered} answered`;
      } finally {
        client.close();
      }
    });
  await measured("1 GiB streamed body", async () => {
    const stream = openStream(warm);
    const headers = getHeaders("/upload", { "content-type": "application/octet-stream" });
    headers[0] = [":method", "POST"];
    await exchange(stream, requestHeaders(headers, false));
    const chunk = Buffer.alloc(MiB, 0x61);
    for (let i = 0; i < 1024; i++) await exchange(stream, requestBody(chunk, i === 1023), 60_000);
    await exchange(stream, responseHeaders({ ":status": "200" }));
    stream.end();
    await stream.status;
    return "1024 chunks of 1 MiB answered";
  });
  await blocksAttack(warm);
  console.log(`processor alive: ${processor.child.exitCode === null}`);
} finally {
  warm.close();
  processor.kill("SIGTERM");
  await processor.exited;
}
