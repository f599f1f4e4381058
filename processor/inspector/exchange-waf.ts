/**
 * The WAF side of one inspection: its libddwaf context and time budget, the rules that matched,
 * and the one place where a WAF action becomes a verdict (or, when observing, a would-be verdict).
 */
import { type InspectionMetrics, NO_METRICS } from "../metrics/index.ts";
import type { ExchangeSpan } from "../tracing/index.ts";
import {
  type BlockTemplates,
  blockResponseFor,
  type WafAction,
  type WafContext,
} from "../waf/index.ts";
import type { ImmediateVerdict } from "./verdict.ts";

/** What a {@link ExchangeWaf} needs besides its context. */
export interface ExchangeWafOptions {
  /** The whole exchange's WAF budget, in microseconds (`DD_APPSEC_WAF_TIMEOUT`). */
  readonly budgetUs: number;
  /** Never block: record the first action instead. */
  readonly observing: boolean;
  readonly templates: BlockTemplates;
  readonly metrics?: InspectionMetrics | undefined;
}

/** Runs the WAF for one exchange and remembers what it decided. */
export class ExchangeWaf {
  readonly context: WafContext;
  readonly #options: ExchangeWafOptions;
  readonly #metrics: InspectionMetrics;
  readonly #ruleIds = new Set<string>();
  #blockedBy: WafAction | undefined;
  #wouldHaveBlocked: WafAction | undefined;

  constructor(context: WafContext, options: ExchangeWafOptions) {
    this.context = context;
    this.#options = options;
    this.#metrics = options.metrics ?? NO_METRICS;
  }

  /** Ids of the rules that matched, in order of first match. */
  get ruleIds(): ReadonlySet<string> {
    return this.#ruleIds;
  }

  /** The action answered with (a block page or redirect was sent). */
  get blockedBy(): WafAction | undefined {
    return this.#blockedBy;
  }

  /** When observing: the first action that would have been taken. */
  get wouldHaveBlocked(): WafAction | undefined {
    return this.#wouldHaveBlocked;
  }

  /**
   * Runs the WAF on `addresses` within what is left of the budget and reports the run to `span`.
   * Returns the block page or redirect when an action applies and blocking is allowed;
   * `undefined` to continue. A failed or timed-out run continues (the processor fails open on its
   * own errors, and records them on the span); the proxy's fail-open setting only governs failures
   * of the exchange's stream itself.
   */
  run(
    addresses: Record<string, unknown>,
    span: ExchangeSpan | undefined,
    accept: string | undefined,
  ): ImmediateVerdict | undefined {
    const result = this.context.run(addresses, this.#options.budgetUs);
    const failed = result.errorCode !== undefined;
    // A run with no address this ruleset reads never reaches libddwaf: not counted.
    if (result.durationUs > 0 || result.timedOut || failed) {
      this.#metrics.wafRun(result.durationUs, result.timedOut, failed);
    }
    for (const id of ruleIdsOf(result.events)) {
      this.#ruleIds.add(id);
      this.#metrics.ruleMatched(id);
    }
    span?.noteWaf(result);
    const action = result.actions[0];
    if (!action) return undefined;
    if (this.#options.observing) {
      this.#wouldHaveBlocked ??= action;
      return undefined;
    }
    this.#blockedBy = action;
    return verdictFor(action, accept, this.#options.templates);
  }
}

/** The block page or redirect for `action`, negotiated with the request's Accept header. */
function verdictFor(
  action: WafAction,
  accept: string | undefined,
  templates: BlockTemplates,
): ImmediateVerdict {
  const page = blockResponseFor(action, accept, templates);
  return {
    kind: "immediate",
    status: page.status,
    headers: page.headers,
    body: page.body,
    details: action.kind === "redirect" ? "aap_redirected" : "aap_blocked",
  };
}

/** Rule ids of libddwaf events (`[{ rule: { id } }]`); tolerant of unexpected shapes. */
function ruleIdsOf(events: readonly unknown[]): string[] {
  const ids: string[] = [];
  for (const event of events) {
    const rule = (event as { rule?: { id?: unknown } } | null)?.rule;
    if (typeof rule?.id === "string") ids.push(rule.id);
  }
  return ids;
}
