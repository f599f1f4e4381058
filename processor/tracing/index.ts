/**
 * `tracing/`: one Datadog span per ext_proc stream, tagged as Datadog's Go processor tags it. The
 * only folder that touches dd-trace (in `dd-tracer.ts`, loaded when {@link createTracer} runs).
 */

export type { DatadogTracerOptions } from "./dd-tracer.ts";
export { createTracer } from "./dd-tracer.ts";
export { spanTagsFor } from "./tags.ts";
export type {
  ExchangeSpan,
  ExchangeTracer,
  SpanEnd,
  SpanStart,
} from "./types.ts";
