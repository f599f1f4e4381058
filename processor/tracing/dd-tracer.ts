/**
 * The real tracer: dd-trace, started once per process with automatic instrumentation off, one
 * manual `http.request` span per stream. This file is the only one in the project that loads
 * dd-trace.
 *
 * dd-trace internals used (dd-trace 6.21.0; each guarded, so a change degrades a feature with a
 * warning instead of breaking requests):
 * - `priority_sampler.keepTrace(span, ASM)`: the only keep honoured in standalone mode
 *   (docs/libddwaf-and-dd-trace.md#standalone-mode); it also records `_dd.p.dm=-5`.
 * - `standalone/tracesource.addTraceSourceTag`: `_dd.p.ts=02` in APM mode too, as Go sets it on
 *   every event.
 * - `span.context()._trace.tags` to read `_dd.p.ts`, `_sampling` to read the decision and to mark
 *   dropped standalone traces as discarded (the Agent drops them anyway).
 * - the standalone sampler's `_limiter`: dd-trace's one-trace-per-minute heartbeat exists only
 *   when dd-trace's own AppSec is on, which we leave off (our WAF is `processor/waf/`).
 * - the `datadog:log:error` diagnostics channel, to warn when the Agent cannot be reached.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { createRequire } from "node:module";
import type ddTrace from "dd-trace";
import type { Span, SpanContext, TracerOptions } from "dd-trace";
import type { Logger } from "../log.ts";
import { PROCESSOR_VERSION } from "../version.ts";
import { createRateLimiter, createSchemaSampler, type RateLimiter } from "./sampling.ts";
import { createSpanPolicy, PolicySpan, rateLimitedWarn, type SpanBackend } from "./stream-span.ts";
import type { ExchangeTracer, SpanEnd, SpanStart, SpanTags } from "./types.ts";

/** Options of {@link createTracer} that are not settings (tests). */
export interface TracerTestOptions {
  /** dd-trace's `flushInterval` in ms; default dd-trace's (2000). */
  readonly flushIntervalMs?: number;
  /** Minimum interval between two "Agent unreachable" warnings; default 60 s. */
  readonly warnIntervalMs?: number;
}

/** A {@link ExchangeTracer} backed by dd-trace. */
export type DatadogTracer = ExchangeTracer & {
  /** Sends what is buffered (bounded by `timeoutMs`, default 2 s) and stops reporting errors. */
  shutdown(timeoutMs?: number): Promise<void>;
};

const DD_TRACE_SRC = "dd-trace/packages/dd-trace/src";
const ERROR_CHANNEL = "datadog:log:error";
const TRACE_SOURCE_TAG = "_dd.p.ts";
const AUTO_REJECT = 0;

/** Incoming headers that carry trace context (Datadog, W3C, baggage). */
const CONTEXT_HEADERS = [
  "x-datadog-trace-id",
  "x-datadog-parent-id",
  "x-datadog-sampling-priority",
  "x-datadog-origin",
  "x-datadog-tags",
  "traceparent",
  "tracestate",
  "baggage",
] as const;

type Product = { readonly id: number; readonly mechanism?: number };
interface Internals {
  keepTrace(span: Span, product: Product): void;
  addTraceSourceTag(tags: Record<string, unknown> | undefined, product: Product): void;
  asm: Product;
  RateLimiter: new (limit: number, interval: string) => unknown;
}
interface InternalContext {
  _trace?: { tags?: Record<string, unknown> };
  _sampling?: { priority?: number; discard?: boolean };
}
interface InternalSampler {
  configure(...args: unknown[]): void;
  sample(span: unknown): void;
  _limiter?: unknown;
}

/** What the tracer reads of the configuration (built by `wiring.ts`). */
export interface DatadogTracerOptions {
  readonly service: string;
  readonly env: string | undefined;
  /** `DD_VERSION`, else the processor's own version. */
  readonly version: string | undefined;
  /** The Agent's trace intake, e.g. `http://localhost:8126`. */
  readonly agentUrl: string;
  /** `false`: standalone App and API Protection (`DD_APM_TRACING_ENABLED`). */
  readonly apmTracingEnabled: boolean;
  readonly apiSecurityEnabled: boolean;
  readonly apiSecuritySampleDelayS: number;
  /** Attack traces kept per second (`DD_APPSEC_TRACE_RATE_LIMIT`). */
  readonly traceRateLimitPerS: number;
  readonly clientIpHeader: string | undefined;
}

let started = false;

/**
 * Starts dd-trace (once per process: a second call throws) and returns the tracer. Never waits for
 * the Agent: spans are buffered and sent in the background every `flushInterval`.
 */
export function createTracer(
  config: DatadogTracerOptions,
  log: Logger,
  testOptions: TracerTestOptions = {},
): DatadogTracer {
  if (started) throw new Error("createTracer: dd-trace is already started in this process");
  started = true;
  const require = createRequire(import.meta.url);
  const tracer = require("dd-trace") as typeof ddTrace;
  const standalone = !config.apmTracingEnabled;
  const options: TracerOptions = {
    service: config.service,
    version: config.version ?? PROCESSOR_VERSION,
    url: config.agentUrl,
    plugins: false,
    apmTracingEnabled: config.apmTracingEnabled,
    // Our WAF runs in processor/waf/; dd-trace's own AppSec would load a second one.
    appsec: false,
    startupLogs: false,
    logInjection: false,
    runtimeMetrics: false,
  };
  if (config.env !== undefined) options.env = config.env;
  if (testOptions.flushIntervalMs !== undefined)
    options.flushInterval = testOptions.flushIntervalMs;
  tracer.init(options);

  const internals = loadInternals(require, log);
  const sampler = (tracer as unknown as { _tracer?: { _prioritySampler?: InternalSampler } })
    ._tracer?._prioritySampler;
  if (standalone) installHeartbeat(sampler, internals, log);
  // Mirrors the sampler's one-per-minute heartbeat for traces that never created a span.
  const heartbeat = createRateLimiter(1, Date.now, 60_000);
  const agentWarn = rateLimitedWarn(log, testOptions.warnIntervalMs ?? 60_000);
  const onDdError = (message: unknown) => {
    const text = message instanceof Error ? message.message : String(message);
    agentWarn("dd-trace reported an error; traces may be dropped", {
      error: text.split("\n", 1)[0]?.slice(0, 300) ?? "",
    });
  };
  subscribe(ERROR_CHANNEL, onDdError);

  const policy = createSpanPolicy(
    {
      standalone,
      apiSecurityEnabled: config.apiSecurityEnabled,
      asmKeepLimiter: createRateLimiter(config.traceRateLimitPerS),
      schemaSampler: createSchemaSampler(config.apiSecuritySampleDelayS),
      tagOptions: { clientIpHeader: config.clientIpHeader },
    },
    log,
    testOptions.warnIntervalMs,
  );
  log.info("tracer started", {
    agent: options.url ?? "",
    service: config.service,
    mode: standalone ? "standalone-asm" : "apm",
  });

  return {
    startSpan(start) {
      return new PolicySpan(start, new DdTraceBackend(tracer, internals, start, heartbeat), policy);
    },
    shutdown(timeoutMs = 2000) {
      unsubscribe(ERROR_CHANNEL, onDdError);
      return flush(tracer, timeoutMs);
    },
  };
}

function loadInternals(require: NodeJS.Require, log: Logger): Internals | undefined {
  try {
    const sampler = require(`${DD_TRACE_SRC}/priority_sampler.js`);
    const product = require(`${DD_TRACE_SRC}/standalone/product.js`);
    const source = require(`${DD_TRACE_SRC}/standalone/tracesource.js`);
    const RateLimiter = require(`${DD_TRACE_SRC}/rate_limiter.js`);
    if (
      typeof sampler.keepTrace === "function" &&
      typeof source.addTraceSourceTag === "function" &&
      typeof product.ASM?.id === "number" &&
      typeof RateLimiter === "function"
    ) {
      return {
        keepTrace: sampler.keepTrace,
        addTraceSourceTag: source.addTraceSourceTag,
        asm: product.ASM,
        RateLimiter,
      };
    }
  } catch (cause) {
    log.warn("dd-trace internals not found", { error: String(cause) });
  }
  log.warn("dd-trace internals changed: traces with security events cannot be force-kept");
  return undefined;
}

/**
 * Standalone mode keeps about one non-ASM trace per minute so the backend sees the service (the
 * heartbeat dd-trace gives when its AppSec is on: `getProductRateLimiter` in
 * `standalone/product.js`). The limiter is re-installed after each sampler reconfiguration.
 */
function installHeartbeat(
  sampler: InternalSampler | undefined,
  internals: Internals | undefined,
  log: Logger,
): void {
  if (internals === undefined || sampler === undefined || typeof sampler.configure !== "function") {
    log.warn("dd-trace sampler not found: no standalone heartbeat trace");
    return;
  }
  const { RateLimiter } = internals;
  const configure = sampler.configure;
  sampler.configure = function (this: InternalSampler, ...args: unknown[]) {
    configure.apply(this, args);
    this._limiter = new RateLimiter(1, "minute");
  };
  sampler._limiter = new RateLimiter(1, "minute");
}

function flush(tracer: typeof ddTrace, timeoutMs: number): Promise<void> {
  const internal = (
    tracer as unknown as { _tracer?: { _exporter?: { flush?(done: () => void): void } } }
  )._tracer?._exporter;
  if (typeof internal?.flush !== "function") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    internal.flush?.(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * One dd-trace span, created only when something needs it. In standalone mode (the default) almost
 * every trace is dropped: a request without security events, without upstream trace context and
 * not chosen as the minute's heartbeat would cost a span, its context extraction, twenty tags and
 * a trip through dd-trace's processor, for nothing sent. Such a stream never creates the span; the
 * first call that needs it (a keep, an injection, a sampling decision, an exported finish)
 * creates it with the stream's start time.
 */
class DdTraceBackend implements SpanBackend {
  readonly #tracer: typeof ddTrace;
  readonly #internals: Internals | undefined;
  readonly #start: SpanStart;
  readonly #startTime: number;
  readonly #heartbeat: RateLimiter;
  #span: Span | undefined;

  constructor(
    tracer: typeof ddTrace,
    internals: Internals | undefined,
    start: SpanStart,
    heartbeat: RateLimiter,
  ) {
    this.#tracer = tracer;
    this.#internals = internals;
    this.#start = start;
    this.#startTime = start.startTime ?? Date.now();
    this.#heartbeat = heartbeat;
  }

  keepForAsm(): void {
    const internals = this.#internals;
    if (internals === undefined) return;
    const span = this.#ensure();
    internals.keepTrace(span, internals.asm);
    internals.addTraceSourceTag(this.#context()._trace?.tags, internals.asm);
  }

  hasAsmTraceSource(): boolean {
    // Without upstream context and before any keep, no span exists and no source can be set.
    if (this.#span === undefined && contextCarrier(this.#start.request.headers) === undefined)
      return false;
    const tags = this.#context()._trace?.tags;
    return tags !== undefined && tags[TRACE_SOURCE_TAG] !== undefined;
  }

  isRejected(): boolean {
    const context = this.#context();
    if (context._sampling?.priority === undefined) {
      (
        this.#ensure() as unknown as { _prioritySampler?: InternalSampler }
      )._prioritySampler?.sample(this.#span);
    }
    const priority = context._sampling?.priority;
    return priority !== undefined && priority <= AUTO_REJECT;
  }

  inject(): Array<readonly [string, string]> {
    const carrier: Record<string, unknown> = {};
    this.#tracer.inject(this.#ensure(), "http_headers", carrier);
    const headers: Array<readonly [string, string]> = [];
    for (const [name, value] of Object.entries(carrier)) {
      if (value !== undefined && value !== null) headers.push([name.toLowerCase(), String(value)]);
    }
    return headers;
  }

  willExport(discardIfRejected: boolean): boolean {
    if (!discardIfRejected) return true;
    // A span that exists has its own decision (upstream priority, a keep); one that does not is
    // an automatic decision, kept only as the minute's heartbeat (see installHeartbeat).
    if (this.#span !== undefined || contextCarrier(this.#start.request.headers) !== undefined)
      return !this.isRejected();
    return this.#heartbeat.allow();
  }

  finish(tags: SpanTags, _end: SpanEnd, discardIfRejected: boolean): void {
    const span = this.#ensure();
    span.setTag("resource.name", tags.resource);
    span.addTags(tags.meta);
    span.addTags(tags.metrics);
    if (tags.error) span.setTag("error", true);
    // dd-trace applies `discard` only if the final decision drops the trace (priority <= 0):
    // the heartbeat and ASM keeps are still exported.
    const sampling = this.#context()._sampling;
    if (discardIfRejected && sampling !== undefined) sampling.discard = true;
    span.finish();
  }

  drop(): void {
    const span = this.#span;
    if (span === undefined) return;
    const sampling = this.#context()._sampling;
    if (sampling !== undefined) sampling.discard = true;
    span.finish();
  }

  #ensure(): Span {
    this.#span ??= this.#tracer.startSpan("http.request", {
      childOf: extractContext(this.#tracer, this.#start.request.headers),
      tags: { "span.type": "web", "span.kind": "server" },
      startTime: this.#startTime,
    });
    return this.#span;
  }

  #context(): InternalContext {
    return this.#ensure().context() as unknown as InternalContext;
  }
}

/** The upstream trace context, or null for a new trace (never the ambient active span). */
function extractContext(
  tracer: typeof ddTrace,
  headers: Readonly<Record<string, readonly string[]>>,
): SpanContext | null {
  const carrier = contextCarrier(headers);
  return carrier === undefined ? null : tracer.extract("http_headers", carrier);
}

/** The incoming trace-context headers, or undefined when the request carries none. */
function contextCarrier(
  headers: Readonly<Record<string, readonly string[]>>,
): Record<string, string> | undefined {
  let carrier: Record<string, string> | undefined;
  for (const name of CONTEXT_HEADERS) {
    const values = headers[name];
    if (values === undefined || values.length === 0) continue;
    carrier ??= {};
    carrier[name] = values.join(",");
  }
  return carrier;
}
