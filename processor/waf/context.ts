/**
 * One WAF context per ext_proc stream. It feeds addresses to libddwaf within the stream's time
 * budget and never throws: failures come back as `errorCode` on the result.
 */
import type { Logger } from "../log.ts";
import { actionsFromWaf, type WafAction } from "./actions.ts";
import type { HandleRef } from "./handle.ts";
import type { NativeContext, NativePayload, NativeResult } from "./native.ts";

/**
 * `errorCode` values of a {@link WafRunResult}. The negative libddwaf codes pass through as they
 * are; the others are ours.
 */
export const WAF_ERROR_CODES = Object.freeze({
  /** libddwaf: `DDWAF_ERR_INVALID_ARGUMENT`. */
  INVALID_ARGUMENT: -1,
  /** libddwaf: `DDWAF_ERR_INVALID_OBJECT`. */
  INVALID_OBJECT: -2,
  /** libddwaf: `DDWAF_ERR_INTERNAL`. */
  INTERNAL: -3,
  /** The context was disposed (or never got a libddwaf context); nothing ran. */
  CONTEXT_DISPOSED: -100,
  /** The binding threw; -127 is what dd-trace records in that case (`waf_context_wrapper.js`). */
  BINDING_THREW: -127,
});

/** The outcome of one {@link WafContext.run}. */
export interface WafRunResult {
  /** libddwaf events (rule triggers), as reported, for `_dd.appsec.json`. */
  readonly events: readonly unknown[];
  /** Blocking verdicts; the first one is the one to apply. Empty when monitoring only. */
  readonly actions: readonly WafAction[];
  /** The budget ran out, in libddwaf or before the call. Not an error. */
  readonly timedOut: boolean;
  /** Time libddwaf reports for this run, in µs (0 when libddwaf was not called). */
  readonly durationUs: number;
  /** libddwaf asks for the trace to be kept. */
  readonly keep: boolean;
  /** Derived attributes: fingerprints `_dd.appsec.fp.*`, schemas `_dd.appsec.s.*` (raw JSON). */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Set when the run failed; see {@link WAF_ERROR_CODES}. */
  readonly errorCode?: number;
}

/** Options of {@link WafContext.run}. */
export interface WafRunOptions {
  /** Evaluate the data for this run only instead of keeping it in the context. Default false. */
  ephemeral?: boolean | undefined;
}

/** A per-stream WAF context. Dispose it on every path (end, block, error, cancellation). */
export interface WafContext {
  /**
   * Runs the WAF on `addresses` (keys from `ADDRESSES`; unknown keys and `undefined` values are
   * dropped). `budgetUs` is the stream's whole budget (`DD_APPSEC_WAF_TIMEOUT`, µs): the time
   * already spent by earlier runs of this context is deducted, and once nothing is left libddwaf is
   * not called and the result says `timedOut`. Never throws.
   */
  run(addresses: Record<string, unknown>, budgetUs: number, options?: WafRunOptions): WafRunResult;
  /** Frees the libddwaf context. Idempotent; later runs return `CONTEXT_DISPOSED`. */
  dispose(): void;
  /** `metadata.rules_version` of the ruleset this context runs (it may since have been replaced). */
  readonly rulesVersion: string | undefined;
  /**
   * Some rule of this context's ruleset reads `address`. False for what only processors read
   * (the response headers and body, read by API Security's schema extraction when asked for).
   */
  isReadByRules(address: string): boolean;
  /** Sum of {@link WafRunResult.durationUs} over all runs, in µs. */
  readonly durationUs: number;
  /** Wall time spent in runs so far (marshalling included), in µs: what the budget counts. */
  readonly spentUs: number;
  /** Runs that timed out, including those skipped because the budget was spent. */
  readonly timeouts: number;
  /** Some run reported at least one event. */
  readonly hasEvents: boolean;
}

const EMPTY_RESULT: WafRunResult = Object.freeze({
  events: Object.freeze([]),
  actions: Object.freeze([]),
  timedOut: false,
  durationUs: 0,
  keep: false,
  attributes: Object.freeze({}),
});

function failed(errorCode: number): WafRunResult {
  return { ...EMPTY_RESULT, errorCode };
}

/**
 * Creates a context on `handle`. If libddwaf cannot create one (or `handle` is undefined, as after
 * the engine is disposed) the context is born disposed, so each run reports an error code.
 */
export function createWafContext(
  handle: HandleRef | undefined,
  log: Logger,
  live: LiveCount = { open: 0 },
): WafContext {
  return new NativeWafContext(handle, log, live);
}

/** Native contexts created and not yet disposed, shared by the contexts of one engine. */
export interface LiveCount {
  open: number;
}

const NO_ADDRESSES: ReadonlySet<string> = new Set();

class NativeWafContext implements WafContext {
  readonly rulesVersion: string | undefined;
  readonly #ruleAddresses: ReadonlySet<string>;
  durationUs = 0;
  spentUs = 0;
  timeouts = 0;
  hasEvents = false;
  #native: NativeContext | undefined;
  #known: ReadonlySet<string> = new Set();
  readonly #handle: HandleRef | undefined;
  readonly #log: Logger;
  readonly #live: LiveCount;

  constructor(handle: HandleRef | undefined, log: Logger, live: LiveCount) {
    this.#handle = handle;
    this.#log = log;
    this.#live = live;
    this.rulesVersion = handle?.info.rulesVersion;
    this.#ruleAddresses = handle?.info.ruleAddresses ?? NO_ADDRESSES;
    if (handle === undefined) return;
    try {
      ({ native: this.#native, knownAddresses: this.#known } = handle.acquire());
      live.open += 1;
    } catch (cause) {
      log.error("cannot create WAF context", { error: String(cause) });
    }
  }

  run(addresses: Record<string, unknown>, budgetUs: number, options?: WafRunOptions): WafRunResult {
    if (this.#native === undefined) return failed(WAF_ERROR_CODES.CONTEXT_DISPOSED);
    const data = knownOnly(addresses, this.#known);
    if (data === undefined) return EMPTY_RESULT;
    // libddwaf takes whole µs, at least 1; NaN or a spent budget skips the call.
    const remainingUs = Math.floor(budgetUs - this.spentUs);
    if (!(remainingUs >= 1)) {
      this.timeouts += 1;
      return { ...EMPTY_RESULT, timedOut: true };
    }
    const payload = options?.ephemeral === true ? { ephemeral: data } : { persistent: data };
    const result = this.#call(this.#native, payload, remainingUs);
    this.durationUs += result.durationUs;
    if (result.timedOut) this.timeouts += 1;
    if (result.events.length > 0) this.hasEvents = true;
    return result;
  }

  /**
   * The budget counts wall time around the call, not only libddwaf's own duration, because
   * converting the JS values into libddwaf objects is part of what the stream waits for (as
   * go-libddwaf's per-context timer also counts encoding).
   */
  #call(native: NativeContext, payload: NativePayload, timeoutUs: number): WafRunResult {
    const started = process.hrtime.bigint();
    try {
      return resultFromNative(native.run(payload, timeoutUs));
    } catch (cause) {
      this.#log.debug("WAF run threw", { error: String(cause) });
      return failed(WAF_ERROR_CODES.BINDING_THREW);
    } finally {
      this.spentUs += Number(process.hrtime.bigint() - started) / 1e3;
    }
  }

  isReadByRules(address: string): boolean {
    return this.#ruleAddresses.has(address);
  }

  dispose(): void {
    const native = this.#native;
    if (native === undefined) return;
    this.#native = undefined;
    try {
      native.dispose();
    } catch (cause) {
      this.#log.error("cannot dispose WAF context", { error: String(cause) });
    } finally {
      this.#live.open -= 1;
      this.#handle?.release();
    }
  }
}

/**
 * Keeps the addresses this ruleset knows, as dd-trace does: feeding others costs marshalling time
 * and can match nothing. Returns undefined when nothing is left.
 */
function knownOnly(
  addresses: Record<string, unknown>,
  known: ReadonlySet<string>,
): Record<string, unknown> | undefined {
  let data: Record<string, unknown> | undefined;
  for (const [address, value] of Object.entries(addresses)) {
    if (value === undefined || !known.has(address)) continue;
    data ??= {};
    data[address] = value;
  }
  return data;
}

function resultFromNative(raw: NativeResult): WafRunResult {
  if (typeof raw.errorCode === "number" && raw.errorCode < 0) return failed(raw.errorCode);
  return {
    events: raw.events ?? [],
    actions: actionsFromWaf(raw.actions),
    timedOut: raw.timeout === true,
    // libddwaf reports nanoseconds.
    durationUs: (raw.duration ?? 0) / 1e3,
    keep: raw.keep === true,
    attributes: raw.attributes ?? {},
  };
}
