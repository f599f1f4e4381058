/**
 * Test doubles for the inspector's collaborators: a scripted WAF (no libddwaf), a tracer that
 * records spans, and fixed block pages. Each records what it was given, so tests can check what
 * the inspector fed the WAF and how it finished the span.
 */
import type { ExchangeSpan, ExchangeTracer } from "../../processor/tracing/index.ts";
import type {
  BlockTemplates,
  WafAction,
  WafContext,
  WafEngine,
  WafRunResult,
} from "../../processor/waf/index.ts";

type SpanEnd = Parameters<ExchangeSpan["finish"]>[0];

/** What a scripted run returns: the action to take, if any, and whether it timed out. */
export interface ScriptedRun {
  readonly action?: WafAction;
  readonly events?: readonly unknown[];
  readonly timedOut?: boolean;
}

/** Decides each run's result from the addresses it is fed. */
export type WafScript = (addresses: Record<string, unknown>) => ScriptedRun | undefined;

/** A WAF whose contexts follow `script`, and what they saw. */
export interface FakeWaf {
  readonly engine: WafEngine;
  /** Every run of every context, in order: the addresses fed. */
  readonly runs: Array<Record<string, unknown>>;
  /** Contexts created and not disposed. */
  readonly openContexts: number;
  readonly disposeCalls: number;
}

/** Options of {@link fakeWaf}. */
export interface FakeWafOptions {
  /** Addresses some rule reads besides the request's (e.g. `server.response.body`). */
  readonly readByRules?: readonly string[];
}

/** Creates a scripted WAF engine. */
export function fakeWaf(script: WafScript = () => undefined, options: FakeWafOptions = {}) {
  const runs: Array<Record<string, unknown>> = [];
  let open = 0;
  let disposeCalls = 0;
  const readByRules = new Set(options.readByRules ?? []);
  const createContext = (): WafContext => {
    open += 1;
    let disposed = false;
    let timeouts = 0;
    return {
      run(addresses) {
        runs.push(addresses);
        const scripted = script(addresses) ?? {};
        if (scripted.timedOut === true) timeouts += 1;
        return runResult(scripted);
      },
      dispose() {
        disposeCalls += 1;
        if (!disposed) open -= 1;
        disposed = true;
      },
      rulesVersion: "9.9.9",
      isReadByRules: (address) => readByRules.has(address),
      durationUs: 0,
      spentUs: 0,
      get timeouts() {
        return timeouts;
      },
      hasEvents: false,
    };
  };
  const engine: WafEngine = {
    wafVersion: "1.30.1",
    rulesVersion: "9.9.9",
    loadedRules: 1,
    failedRules: [],
    createContext,
    get openContexts() {
      return open;
    },
    replaceRules: () => {
      throw new Error("the inspector never replaces rules");
    },
    updateConfigs: () => {
      throw new Error("the inspector never updates the WAF's configuration");
    },
    dispose: () => {},
  };
  const waf: FakeWaf = {
    engine,
    runs,
    get openContexts() {
      return open;
    },
    get disposeCalls() {
      return disposeCalls;
    },
  };
  return waf;
}

function runResult(scripted: ScriptedRun): WafRunResult {
  return {
    events: scripted.events ?? (scripted.action ? [{ rule: { id: "scripted-rule" } }] : []),
    actions: scripted.action ? [scripted.action] : [],
    timedOut: scripted.timedOut === true,
    durationUs: 1,
    keep: scripted.action !== undefined,
    attributes: {},
  };
}

/** A span that records what it was told, and a tracer of them. */
export interface FakeTracer extends ExchangeTracer {
  readonly ends: SpanEnd[];
  /** WAF runs noted per span, in order of span start. */
  readonly noted: WafRunResult[][];
}

/** Creates a tracer whose spans record their end; `sampleSchema` answers API Security. */
export function fakeTracer(sampleSchema = false): FakeTracer {
  const ends: SpanEnd[] = [];
  const noted: WafRunResult[][] = [];
  return {
    ends,
    noted,
    startSpan() {
      const runs: WafRunResult[] = [];
      noted.push(runs);
      let finished = false;
      return {
        propagationHeaders: () => [],
        noteWaf: (result) => runs.push(result),
        shouldSampleSchema: () => sampleSchema,
        finish(end) {
          if (finished) return;
          finished = true;
          ends.push(end);
        },
      };
    },
  };
}

/** Block pages small enough to compare. */
export const FAKE_TEMPLATES: BlockTemplates = Object.freeze({
  json: '{"blocked":"[security_response_id]"}',
  html: "<p>blocked [security_response_id]</p>",
});
