export type { MetricsSnapshot } from "./exposition.ts";
export { renderMetrics, workerGauges } from "./exposition.ts";
export type { ProcessMetrics } from "./registry.ts";
export { createMetrics, WAF_DURATION_BUCKETS } from "./registry.ts";
export type {
  InspectionMetrics,
  InspectionStatus,
  Metrics,
  StreamMetrics,
  StreamResult,
} from "./types.ts";
export { NO_METRICS, notInspecting } from "./types.ts";
