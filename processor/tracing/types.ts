/**
 * The tracing surface the inspector uses: one server span per HTTP exchange (request and response;
 * with Envoy, one ext_proc stream).
 */
import type { HttpRequest, HttpResponse } from "../http/index.ts";
import type { WafAction, WafRunResult } from "../waf/index.ts";

/** Creates one span per HTTP exchange. */
export interface ExchangeTracer {
  /** Called at request headers; `start.request.headers` carry the incoming trace context. */
  startSpan(start: SpanStart): ExchangeSpan;
}

/** What is known when the span starts (request headers). */
export interface SpanStart {
  readonly integration: "envoy" | "istio";
  readonly request: HttpRequest;
  /** Milliseconds since the epoch; default now. */
  readonly startTime?: number;
}

/** The span of one HTTP exchange. */
export interface ExchangeSpan {
  /**
   * Headers to add to the request towards the backend (distributed tracing), lower-case names.
   * Empty when nothing should be injected: in standalone mode (APM tracing off) only a trace that
   * carries the ASM trace source (an event in this request, or upstream) is propagated, as the Go
   * reference does. Call it after the request-headers WAF run has been passed to `noteWaf`.
   */
  propagationHeaders(): Array<readonly [string, string]>;
  /** Records one WAF run (any phase). An event or `keep` force-keeps the trace (rate-limited). */
  noteWaf(result: WafRunResult): void;
  /**
   * API Security: whether this request's last WAF run should carry
   * `waf.context.processor: {extract-schema: true}`. `status` is the response status, or the block
   * status when the request was blocked. At most one sample per method, endpoint and status every
   * `DD_API_SECURITY_SAMPLE_DELAY` seconds; the answer is memoised per span. A sampled schema keeps
   * the trace.
   */
  shouldSampleSchema(status: number): boolean;
  /** Finishes the span exactly once (later calls are ignored). */
  finish(end: SpanEnd): void;
}

/** How the stream ended. */
export interface SpanEnd {
  readonly outcome: "complete" | "blocked" | "cancelled" | "error";
  /** Absent when the response was never seen. */
  readonly response?: HttpResponse;
  /** The action behind our ImmediateResponse; the span's status code is its status. */
  readonly blockedBy?: WafAction;
  /** Analysed asynchronously: a block would have been applied otherwise. */
  readonly observabilityMode: boolean;
  /** In observability mode, the action that would have been applied. */
  readonly wouldHaveBlocked?: WafAction;
  readonly wafVersion: string;
  readonly rulesVersion: string | undefined;
  /** Runs that timed out. */
  readonly wafTimeouts: number;
  /** libddwaf time over all runs, µs. */
  readonly wafDurationUs: number;
}

/** The name, resource, tags and keep decision of a finished span, as the tracer writes them. */
export interface SpanTags {
  readonly name: "http.request";
  readonly type: "web";
  readonly resource: string;
  /** Tags written as strings (the payload's `meta`). */
  readonly meta: Readonly<Record<string, string>>;
  /** Tags written as numbers (the payload's `metrics`). */
  readonly metrics: Readonly<Record<string, number>>;
  /** The span's `error` flag (5xx). */
  readonly error: boolean;
}
