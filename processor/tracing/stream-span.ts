/**
 * The per-stream span logic shared by the dd-trace tracer and the recording tracer: collecting WAF
 * runs, the ASM keep decision, API Security sampling, propagation in standalone mode and
 * finishing exactly once. What differs between the two (the actual trace) sits behind
 * {@link SpanBackend}.
 */
import type { Logger } from "../log.ts";
import type { WafRunResult } from "../waf/index.ts";
import type { RateLimiter, SchemaSampler } from "./sampling.ts";
import { type SpanTagOptions, spanTagsFor } from "./tags.ts";
import type { ExchangeSpan, SpanEnd, SpanStart, SpanTags } from "./types.ts";
import { httpEndpoint } from "./url.ts";

/** What a tracer does to the trace of one span. Methods may throw; callers contain it. */
export interface SpanBackend {
  /** Force-keeps the trace for App and API Protection: priority 2, `_dd.p.dm=-5`, `_dd.p.ts`. */
  keepForAsm(): void;
  /** The trace carries the ASM trace source (`_dd.p.ts`), set by us or received from upstream. */
  hasAsmTraceSource(): boolean;
  /** The trace's sampling decision (taken now if needed) drops it. */
  isRejected(): boolean;
  /** The trace-context headers for the request towards the backend. */
  inject(): Array<readonly [string, string]>;
  /**
   * Whether {@link finish} would export anything, asked before the tags are computed so that a
   * trace that will be dropped costs no tag work. `discardIfRejected` as for `finish`.
   */
  willExport(discardIfRejected: boolean): boolean;
  /** Writes the tags and finishes. `discardIfRejected`: do not export a dropped trace at all. */
  finish(tags: SpanTags, end: SpanEnd, discardIfRejected: boolean): void;
  /** Ends the trace without exporting it (after `willExport` said no). */
  drop(): void;
}

/** Tracer-wide settings and state every span of a tracer shares. */
export interface SpanPolicy {
  /** Standalone App and API Protection (`DD_APM_TRACING_ENABLED=false`). */
  readonly standalone: boolean;
  readonly apiSecurityEnabled: boolean;
  /** `DD_APPSEC_TRACE_RATE_LIMIT`: traces force-kept for events, per second. */
  readonly asmKeepLimiter: RateLimiter;
  readonly schemaSampler: SchemaSampler;
  readonly tagOptions: Omit<SpanTagOptions, "firstAfterRulesLoad">;
  /** True for the first span that reports a given rules version (a ruleset (re)load). */
  firstAfterRulesLoad(rulesVersion: string | undefined): boolean;
  /** Reports a backend failure (rate-limited by the caller). */
  onBackendError(operation: string, cause: unknown): void;
}

/** Creates the {@link SpanPolicy} of a tracer. */
export function createSpanPolicy(
  settings: Omit<SpanPolicy, "firstAfterRulesLoad" | "onBackendError">,
  log: Logger,
  warnIntervalMs = 60_000,
): SpanPolicy {
  let lastRulesVersion: string | undefined | null = null;
  const warn = rateLimitedWarn(log, warnIntervalMs);
  return {
    ...settings,
    firstAfterRulesLoad(rulesVersion) {
      if (rulesVersion === lastRulesVersion) return false;
      lastRulesVersion = rulesVersion;
      return true;
    },
    onBackendError(operation, cause) {
      warn("tracing operation failed", { operation, error: String(cause) });
    },
  };
}

/** A warning logged at most once per interval, with the number of occurrences suppressed. */
export function rateLimitedWarn(
  log: Logger,
  intervalMs: number,
  now: () => number = Date.now,
): (msg: string, fields: Record<string, string>) => void {
  let last = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (msg, fields) => {
    const t = now();
    if (t - last < intervalMs) {
      suppressed += 1;
      return;
    }
    log.warn(msg, { ...fields, suppressed });
    last = t;
    suppressed = 0;
  };
}

/** The {@link ExchangeSpan} of one stream over `backend`. */
export class PolicySpan implements ExchangeSpan {
  readonly start: SpanStart;
  readonly wafResults: WafRunResult[] = [];
  asmKept = false;
  schemaSampled: boolean | undefined;
  readonly propagated: Array<Array<readonly [string, string]>> = [];
  finished = false;
  readonly #backend: SpanBackend;
  readonly #policy: SpanPolicy;

  constructor(start: SpanStart, backend: SpanBackend, policy: SpanPolicy) {
    this.start = start;
    this.#backend = backend;
    this.#policy = policy;
  }

  noteWaf(result: WafRunResult): void {
    if (this.finished) return;
    this.wafResults.push(result);
    if (this.asmKept || (result.events.length === 0 && !result.keep)) return;
    if (this.#policy.asmKeepLimiter.allow()) this.#keep();
  }

  propagationHeaders(): Array<readonly [string, string]> {
    if (this.finished) return [];
    let headers: Array<readonly [string, string]> = [];
    try {
      if (!this.#policy.standalone || this.#backend.hasAsmTraceSource()) {
        headers = this.#backend.inject();
      }
    } catch (cause) {
      this.#policy.onBackendError("inject", cause);
    }
    this.propagated.push(headers);
    return headers;
  }

  shouldSampleSchema(status: number): boolean {
    if (this.schemaSampled !== undefined) return this.schemaSampled;
    this.schemaSampled = this.#decideSchema(status);
    if (this.schemaSampled && this.#policy.standalone) this.#keep();
    return this.schemaSampled;
  }

  finish(end: SpanEnd): void {
    if (this.finished) return;
    this.finished = true;
    try {
      const firstAfterRulesLoad = this.#policy.firstAfterRulesLoad(end.rulesVersion);
      // Go keeps the first trace after each ruleset load, so the backend learns the WAF version.
      if (firstAfterRulesLoad) this.#keep();
      const discardIfRejected = this.#policy.standalone && !this.asmKept;
      if (!this.#backend.willExport(discardIfRejected)) {
        this.#backend.drop();
        return;
      }
      const tags = spanTagsFor(this.start, this.wafResults, end, {
        ...this.#policy.tagOptions,
        firstAfterRulesLoad,
      });
      this.#backend.finish(tags, end, discardIfRejected);
    } catch (cause) {
      this.#policy.onBackendError("finish", cause);
    }
  }

  #keep(): void {
    if (this.asmKept) return;
    this.asmKept = true;
    try {
      this.#backend.keepForAsm();
    } catch (cause) {
      this.#policy.onBackendError("keep", cause);
    }
  }

  /**
   * dd-trace-js's rules with the endpoint as route: API Security on, not a 404 (no endpoint for
   * those), a trace that is not dropped (APM mode; in standalone mode the sample keeps it), and the
   * first request of its method, endpoint and status within the delay.
   */
  #decideSchema(status: number): boolean {
    if (!this.#policy.apiSecurityEnabled || status === 404) return false;
    try {
      if (!this.#policy.standalone && this.#backend.isRejected()) return false;
    } catch (cause) {
      this.#policy.onBackendError("sample", cause);
      return false;
    }
    const { method, rawUri } = this.start.request;
    const endpoint = httpEndpoint(rawUri.replace(/[?#].*$/s, ""));
    return this.#policy.schemaSampler.sample(`${method} ${endpoint} ${status}`);
  }
}
