/**
 * Latency of one stream's WAF work with the recommended ruleset: createContext + run + dispose,
 * wall time, plus libddwaf's own duration. Not a test; run with `npm run bench:waf -- [n]`.
 */
import { silentLogger } from "../../processor/log.ts";
import { ADDRESSES, createWafEngine } from "../../processor/waf/index.ts";

const RUNS = Number(process.argv[2] ?? 2000);
const BUDGET_US = 10_000;

const headers = {
  host: ["shop.example.com"],
  "user-agent": ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"],
  accept: ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
  "accept-language": ["en-GB,en;q=0.9"],
  "x-forwarded-for": ["203.0.113.7"],
};
const base = {
  [ADDRESSES.REQUEST_METHOD]: "GET",
  [ADDRESSES.REQUEST_HEADERS_NO_COOKIES]: headers,
  [ADDRESSES.REQUEST_COOKIES]: { session: ["3f2a9c"] },
  [ADDRESSES.CLIENT_IP]: "203.0.113.7",
};
const scenarios: Record<string, Record<string, unknown>> = {
  benign: {
    ...base,
    [ADDRESSES.REQUEST_URI_RAW]: "/search?q=red+shoes&size=42",
    [ADDRESSES.REQUEST_QUERY]: { q: ["red shoes"], size: ["42"] },
  },
  attack: {
    ...base,
    [ADDRESSES.REQUEST_URI_RAW]: "/search?q=%27+OR+1%3D1--&x=%3Cscript%3E",
    [ADDRESSES.REQUEST_QUERY]: { q: ["' OR 1=1--"], x: ["<script>alert(1)</script>"] },
  },
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

function measure(engine: ReturnType<typeof createWafEngine>, data: Record<string, unknown>) {
  const wall: number[] = [];
  const waf: number[] = [];
  let events = 0;
  for (let i = 0; i < RUNS; i += 1) {
    const started = process.hrtime.bigint();
    const context = engine.createContext();
    const result = context.run(data, BUDGET_US);
    context.dispose();
    wall.push(Number(process.hrtime.bigint() - started) / 1e3);
    waf.push(result.durationUs);
    events += result.events.length > 0 ? 1 : 0;
  }
  wall.sort((a, b) => a - b);
  waf.sort((a, b) => a - b);
  return { wall, waf, events };
}

const engine = createWafEngine({ log: silentLogger });
console.log(`libddwaf ${engine.wafVersion}, rules ${engine.rulesVersion}, ${RUNS} runs each`);
for (const [name, data] of Object.entries(scenarios)) {
  measure(engine, data); // warm-up pass
  const { wall, waf, events } = measure(engine, data);
  const fmt = (n: number) => n.toFixed(1).padStart(7);
  console.log(
    `${name.padEnd(7)} wall µs median ${fmt(percentile(wall, 50))} p99 ${fmt(percentile(wall, 99))}` +
      ` | libddwaf µs median ${fmt(percentile(waf, 50))} p99 ${fmt(percentile(waf, 99))}` +
      ` | runs with events ${events}`,
  );
}
engine.dispose();
