/**
 * Test tracers without dd-trace: a no-op one, and a recording one for component tests, which runs
 * the processor's own span policy and tag computation (processor/tracing/stream-span.ts, tags.ts)
 * with a backend that keeps the spans in memory instead of sending them.
 */
import { randomBytes } from "node:crypto";
import { silentLogger } from "../../processor/log.ts";
import {
  type Clock,
  createRateLimiter,
  createSchemaSampler,
} from "../../processor/tracing/sampling.ts";
import {
  createSpanPolicy,
  PolicySpan,
  type SpanBackend,
} from "../../processor/tracing/stream-span.ts";
import type {
  ExchangeSpan,
  ExchangeTracer,
  SpanEnd,
  SpanStart,
  SpanTags,
} from "../../processor/tracing/types.ts";
import type { WafRunResult } from "../../processor/waf/index.ts";

/** A span as {@link createRecordingTracer} records it. */
export interface RecordedSpan extends SpanTags {
  readonly start: SpanStart;
  readonly end: SpanEnd;
  readonly wafResults: readonly WafRunResult[];
  /** Force-kept for App and API Protection (priority 2, `_dd.p.ts=02`, `_dd.p.dm=-5`). */
  readonly asmKept: boolean;
  /** What {@link ExchangeSpan.propagationHeaders} returned, per call. */
  readonly propagated: ReadonlyArray<ReadonlyArray<readonly [string, string]>>;
  /** What {@link ExchangeSpan.shouldSampleSchema} decided, when it was asked. */
  readonly schemaSampled: boolean | undefined;
}

const NOOP_SPAN: ExchangeSpan = Object.freeze({
  propagationHeaders: () => [],
  noteWaf: () => {},
  shouldSampleSchema: () => false,
  finish: () => {},
});

/** A tracer that records nothing and propagates nothing. */
export function createNoopTracer(): ExchangeTracer {
  return { startSpan: () => NOOP_SPAN };
}

/** Settings of {@link createRecordingTracer}; defaults are the processor's defaults. */
export interface RecordingTracerOptions {
  /** Default false (standalone App and API Protection). */
  readonly apmTracingEnabled?: boolean;
  /** Default true. */
  readonly apiSecurityEnabled?: boolean;
  /** Default 30. */
  readonly apiSecuritySampleDelayS?: number;
  /** Default 100. */
  readonly traceRateLimitPerS?: number;
  readonly clientIpHeader?: string;
  readonly now?: Clock;
}

/** A tracer that keeps every finished span in `spans`. */
export function createRecordingTracer(
  options: RecordingTracerOptions = {},
): ExchangeTracer & { spans: RecordedSpan[] } {
  const now = options.now ?? Date.now;
  const policy = createSpanPolicy(
    {
      standalone: options.apmTracingEnabled !== true,
      apiSecurityEnabled: options.apiSecurityEnabled ?? true,
      asmKeepLimiter: createRateLimiter(options.traceRateLimitPerS ?? 100, now),
      schemaSampler: createSchemaSampler(options.apiSecuritySampleDelayS ?? 30, now),
      tagOptions: { clientIpHeader: options.clientIpHeader },
    },
    silentLogger,
  );
  const spans: RecordedSpan[] = [];
  return {
    spans,
    startSpan(start) {
      const span: PolicySpan = new PolicySpan(
        start,
        new RecordingBackend(start, (tags, end) => {
          spans.push({
            ...tags,
            start,
            end,
            wafResults: [...span.wafResults],
            asmKept: span.asmKept,
            propagated: span.propagated,
            schemaSampled: span.schemaSampled,
          });
        }),
        policy,
      );
      return span;
    },
  };
}

/**
 * Simulates the trace context: continues `x-datadog-trace-id` when present, and injects the
 * Datadog and W3C headers with the priority and `_dd.p.ts` the dd-trace tracer would send.
 */
class RecordingBackend implements SpanBackend {
  #kept = false;
  readonly #traceId: bigint;
  readonly #spanId = randomId();
  readonly #upstreamAsm: boolean;
  readonly #onFinish: (tags: SpanTags, end: SpanEnd) => void;

  constructor(start: SpanStart, onFinish: (tags: SpanTags, end: SpanEnd) => void) {
    const headers = start.request.headers;
    const incoming = headers["x-datadog-trace-id"]?.[0];
    this.#traceId =
      incoming !== undefined && /^\d+$/.test(incoming) ? BigInt(incoming) : randomId();
    this.#upstreamAsm = (headers["x-datadog-tags"] ?? []).some((v) => v.includes("_dd.p.ts="));
    this.#onFinish = onFinish;
  }

  keepForAsm(): void {
    this.#kept = true;
  }

  hasAsmTraceSource(): boolean {
    return this.#kept || this.#upstreamAsm;
  }

  isRejected(): boolean {
    return false;
  }

  inject(): Array<readonly [string, string]> {
    const priority = this.#kept ? "2" : "1";
    const hexTrace = this.#traceId.toString(16).padStart(32, "0");
    const hexSpan = this.#spanId.toString(16).padStart(16, "0");
    const headers: Array<readonly [string, string]> = [
      ["x-datadog-trace-id", this.#traceId.toString()],
      ["x-datadog-parent-id", this.#spanId.toString()],
      ["x-datadog-sampling-priority", priority],
    ];
    if (this.hasAsmTraceSource()) headers.push(["x-datadog-tags", "_dd.p.dm=-5,_dd.p.ts=02"]);
    headers.push(["traceparent", `00-${hexTrace}-${hexSpan}-01`]);
    return headers;
  }

  /** Records every span, dropped or not, so that tests see what the tracer computed. */
  willExport(): boolean {
    return true;
  }

  finish(tags: SpanTags, end: SpanEnd): void {
    this.#onFinish(tags, end);
  }

  drop(): void {}
}

function randomId(): bigint {
  return randomBytes(8).readBigUInt64BE() >> 1n;
}
