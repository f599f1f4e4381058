/**
 * The `/metrics` answer: the metrics of every serving process (one snapshot per worker, or the
 * single process), each series labelled with its `worker`, plus the same series summed over the
 * workers with `worker="all"` (counters and amounts are summed, WAF state gauges take the minimum:
 * `aap_extproc_waf_ready{worker="all"}` is 1 only when every worker inspects).
 */
import {
  AggregatorRegistry,
  Gauge,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from "prom-client";

/** One process's metrics, as `registry.ts` snapshots them. */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

/** The `worker` label value of the series summed over all workers. */
export const ALL_WORKERS = "all";

/** The Prometheus text exposition of `snapshots`, per worker and summed. */
export async function renderMetrics(
  snapshots: readonly MetricsSnapshot[],
  extra: MetricsSnapshot = [],
): Promise<{ contentType: string; body: string }> {
  const summed = snapshots.map((snapshot) => relabel(snapshot, ALL_WORKERS));
  const registry = AggregatorRegistry.aggregate([...snapshots, ...summed, extra]);
  return { contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: await registry.metrics() };
}

function relabel(snapshot: MetricsSnapshot, worker: string): MetricsSnapshot {
  return snapshot.map((metric) => ({
    ...metric,
    values: metric.values.map((value) => ({ ...value, labels: { ...value.labels, worker } })),
  }));
}

/** The primary's own gauges: workers alive, and how many answered this scrape. */
export function workerGauges(live: number, scraped: number): Promise<MetricsSnapshot> {
  const registry = new Registry();
  const gauge = (name: string, help: string, value: number) =>
    new Gauge({ name: `aap_extproc_${name}`, help, registers: [registry] }).set(value);
  gauge("workers_live", "Worker processes running (multi-worker mode only).", live);
  gauge("workers_scraped", "Worker processes that answered this scrape in time.", scraped);
  return registry.getMetricsAsJSON();
}
