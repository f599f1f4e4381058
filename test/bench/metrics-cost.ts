/**
 * CPU cost of the metrics one stream records (open, two WAF runs, one rule match, close), with the
 * recorder of `processor/metrics/registry.ts` next to prom-client's own pre-bound label children doing the same, and
 * the cost of one scrape. Not a test; run with `npm run bench:metrics -- [streams]`.
 * The whole-processor comparison is `npm run bench` (docs/performance.md).
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import {
  createMetrics,
  notInspecting,
  renderMetrics,
  WAF_DURATION_BUCKETS,
} from "../../processor/metrics/index.ts";

const STREAMS = Number(process.argv[2] ?? 2_000_000);

function timeNs(label: string, perStream: () => void): number {
  for (let i = 0; i < 100_000; i++) perStream();
  const started = process.hrtime.bigint();
  for (let i = 0; i < STREAMS; i++) perStream();
  const ns = Number(process.hrtime.bigint() - started) / STREAMS;
  console.log(`${label.padEnd(44)} ${ns.toFixed(1).padStart(7)} ns per stream`);
  return ns;
}

const { metrics, snapshot } = createMetrics({ worker: "1", status: () => notInspecting(true) });
timeNs("recorder (processor/metrics)", () => {
  metrics.streamOpened();
  metrics.wafRun(45, false, false);
  metrics.wafRun(120, false, false);
  metrics.ruleMatched("crs-942-100");
  metrics.streamClosed("passed");
});

const registry = new Registry();
const streams = new Counter({
  name: "s",
  help: "s",
  labelNames: ["outcome"],
  registers: [registry],
});
const open = new Gauge({ name: "o", help: "o", registers: [registry] });
const runs = new Counter({ name: "r", help: "r", registers: [registry] });
const rules = new Counter({ name: "m", help: "m", labelNames: ["rule_id"], registers: [registry] });
const duration = new Histogram({
  name: "d",
  help: "d",
  buckets: [...WAF_DURATION_BUCKETS],
  registers: [registry],
});
const passed = streams.labels("passed");
const rule = rules.labels("crs-942-100");
timeNs("prom-client pre-bound children (for reference)", () => {
  open.inc();
  runs.inc();
  duration.observe(45e-6);
  runs.inc();
  duration.observe(120e-6);
  rule.inc();
  open.dec();
  passed.inc();
});

const scrapes = 200;
const started = process.hrtime.bigint();
for (let i = 0; i < scrapes; i++) await renderMetrics([await snapshot(), await snapshot()]);
const ms = Number(process.hrtime.bigint() - started) / 1e6 / scrapes;
console.log(`${"one scrape of two workers".padEnd(44)} ${ms.toFixed(2).padStart(7)} ms`);
