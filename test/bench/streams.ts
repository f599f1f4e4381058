/**
 * Throughput and latency of ext_proc streams through the real gRPC server, printed side by side
 * with a baseline from the same run: the pass-through session (no WAF) against the WAF session with
 * the recommended rules, for a headers-only exchange, an attack, and a 4 KiB JSON body.
 *
 *   node test/bench/streams.ts [streams per case, default 4000] [concurrency, default 50]
 *
 * Numbers, not assertions: compare the rows of one run, on the same machine.
 */
import { loadConfig } from "../../processor/config/index.ts";
import {
  createBodyBudget,
  createWafSessionFactory,
  passThroughSession,
  type SessionFactory,
} from "../../processor/extproc/index.ts";
import type { ProcessingRequest } from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { silentLogger } from "../../processor/log.ts";
import { createNoopTracer } from "../../processor/tracing/index.ts";
import { createWafEngine, loadBlockTemplates } from "../../processor/waf/index.ts";
import { createClient, exchange, openStream } from "../support/grpc-client.ts";
import { startTestServer } from "../support/in-process.ts";
import { getHeaders, requestBody, requestHeaders, responseHeaders } from "../support/messages.ts";

const total = Number(process.argv[2] ?? 4000);
const concurrency = Number(process.argv[3] ?? 50);

type Exchange = ProcessingRequest[];

const benignGet: Exchange = [
  requestHeaders(getHeaders("/api/products?page=2")),
  responseHeaders({ ":status": "200" }),
];
const attackGet: Exchange = [
  requestHeaders(getHeaders("/search?q=<script>alert(document.cookie)</script>' OR 1=1--")),
  responseHeaders({ ":status": "200" }),
];
const jsonBody = JSON.stringify({
  items: Array.from({ length: 60 }, (_, i) => ({
    sku: `SKU-${i}`,
    qty: i % 5,
    note: "deliver to the back door",
  })),
}).slice(0, 4096);
const jsonPost: Exchange = [
  requestHeaders(
    [
      [":method", "POST"],
      [":scheme", "https"],
      [":authority", "shop.example.com"],
      [":path", "/api/orders"],
      ["content-type", "application/json"],
    ],
    false,
  ),
  requestBody(jsonBody, true),
  responseHeaders({ ":status": "201" }),
];

async function measure(createSession: SessionFactory, messages: Exchange) {
  const server = await startTestServer({ createSession, logLevel: "error" });
  const client = createClient(server.target);
  const latencies: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      const started = performance.now();
      const stream = openStream(client);
      for (const message of messages) {
        const reply = await exchange(stream, message);
        if (reply.response.case === "immediateResponse") break;
      }
      await stream.status;
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: Math.min(200, total / 10) }, () => worker())); // warm-up pass below
  latencies.length = 0;
  next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const seconds = (performance.now() - started) / 1000;
  client.close();
  await server.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { rate: latencies.length / seconds, p50: at(0.5), p99: at(0.99) };
}

const loaded = loadConfig({ DD_SERVICE_EXTENSION_TLS: "false" });
if (!loaded.ok) throw new Error("config");
const engine = createWafEngine({ log: silentLogger });
const templates = loadBlockTemplates({ log: silentLogger });
const waf = createWafSessionFactory({
  bodyBudget: createBodyBudget(loaded.config.bodyMemoryLimit),
  config: loaded.config,
  engine,
  templates,
  tracer: createNoopTracer(),
  log: silentLogger,
});

console.log(`${total} streams per case, ${concurrency} concurrent, h2c, Node ${process.version}`);
console.log("case                     session        streams/s   p50 ms   p99 ms");
for (const [name, messages] of [
  ["GET, benign", benignGet],
  ["GET, XSS+SQLi in query", attackGet],
  ["POST, 4 KiB JSON body", jsonPost],
] as const) {
  for (const [label, factory] of [
    ["pass-through", passThroughSession],
    ["WAF", waf],
  ] as const) {
    const result = await measure(factory, messages);
    console.log(
      `${name.padEnd(25)}${label.padEnd(15)}${result.rate.toFixed(0).padStart(9)}${result.p50.toFixed(2).padStart(9)}${result.p99.toFixed(2).padStart(9)}`,
    );
  }
}
engine.dispose();
