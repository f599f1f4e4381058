export type { MetricsSnapshot } from "./exposition.ts";
export { ALL_WORKERS, renderMetrics, workerGauges } from "./exposition.ts";
export type { MetricsSources, ProcessMetrics } from "./registry.ts";
export { createMetrics, PREFIX, RULE_ID_CAP, WAF_DURATION_BUCKETS } from "./registry.ts";
export type {
  BodyDirection,
  InspectionMetrics,
  InspectionStatus,
  Metrics,
  RemoteConfigResult,
  StreamMetrics,
  StreamResult,
} from "./types.ts";
export { NO_METRICS, notInspecting, STREAM_RESULTS } from "./types.ts";
