/**
 * The Prometheus side of {@link Metrics}: plain counters updated on the hot path, copied into
 * prom-client metrics only when scraped (`collect`). This is the only module besides
 * `exposition.ts` that imports prom-client.
 */
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from "prom-client";
import { PROTOCOL_ERROR_CODES } from "../errors.ts";
import { CappedLabels } from "./capped-labels.ts";
import {
  type BodyDirection,
  type InspectionStatus,
  type Metrics,
  REFUSAL_REASONS,
  type RefusalReason,
  type RemoteConfigResult,
  STREAM_RESULTS,
  type StreamResult,
} from "./types.ts";

/** Prefix of every metric of ours. */
export const PREFIX = "aap_extproc_";

/**
 * Upper bounds of the WAF run duration histogram, in seconds: 10 µs to 50 ms, around the default
 * 10 ms budget (a run of the recommended rules takes 20-200 µs).
 */
export const WAF_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
]);

/** Distinct rule ids given their own series; later ones are counted as `other`. */
export const RULE_ID_CAP = 500;
/** Distinct remote-configuration products given their own series. */
export const PRODUCT_CAP = 16;

/** What {@link createMetrics} reads when scraped. */
export interface MetricsSources {
  /** This process's label: the cluster worker id, `0` when the processor runs alone. */
  readonly worker: string;
  /** Current WAF state (it changes when remote configuration replaces the rules). */
  readonly status: () => InspectionStatus;
  /** Process-wide body memory budget, when this process inspects bodies. */
  readonly bodyBudget?: { readonly usedBytes: number; readonly limitBytes: number } | undefined;
}

/** A process's metrics: the recorder the serving code calls, and its registry for scrapes. */
export interface ProcessMetrics {
  readonly metrics: Metrics;
  /** Every metric with its values and labels (`worker` included), for `exposition.ts`. */
  snapshot(): Promise<MetricObjectWithValues<MetricValue<string>>[]>;
}

/** Creates the metrics of one serving process. */
export function createMetrics(sources: MetricsSources): ProcessMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ worker: sources.worker });
  collectDefaultMetrics({ register: registry });
  const recorder = new Recorder();
  registerStreamMetrics(registry, recorder);
  registerWafMetrics(registry, recorder, sources);
  registerBodyMetrics(registry, recorder, sources);
  return { metrics: recorder, snapshot: () => registry.getMetricsAsJSON() };
}

/** Plain numbers: what the hot path touches. */
class Recorder implements Metrics {
  readonly streams: Record<StreamResult, number> = {
    passed: 0,
    blocked: 0,
    redirected: 0,
    error: 0,
    cancelled: 0,
  };
  open = 0;
  readonly refused: Record<RefusalReason, number> = { "queue-delay": 0, "open-streams": 0 };
  readonly protocolErrors = new CappedLabels(PROTOCOL_ERROR_CODES.length + 8, [
    ...PROTOCOL_ERROR_CODES,
  ]);
  wafRuns = 0;
  wafTimeouts = 0;
  wafErrors = 0;
  /** Count per bucket of {@link WAF_DURATION_BUCKETS}, then the +Inf bucket. */
  readonly wafDurationBuckets = new Float64Array(WAF_DURATION_BUCKETS.length + 1);
  wafDurationSum = 0;
  readonly rules = new CappedLabels(RULE_ID_CAP);
  readonly bodies = { request: 0, response: 0 };
  readonly truncated = { request: 0, response: 0 };
  readonly remoteConfig = new CappedLabels(PRODUCT_CAP * 2);

  streamOpened(): void {
    this.open += 1;
  }

  streamClosed(result: StreamResult): void {
    this.open -= 1;
    this.streams[result] += 1;
  }

  streamRefused(reason: RefusalReason): void {
    this.refused[reason] += 1;
  }

  protocolError(code: string): void {
    this.protocolErrors.add(code);
  }

  wafRun(durationUs: number, timedOut: boolean, failed: boolean): void {
    this.wafRuns += 1;
    if (timedOut) this.wafTimeouts += 1;
    if (failed) {
      this.wafErrors += 1;
      return;
    }
    const seconds = durationUs / 1e6;
    let bucket = 0;
    while (bucket < WAF_DURATION_BUCKETS.length && seconds > (WAF_DURATION_BUCKETS[bucket] ?? 0))
      bucket += 1;
    this.wafDurationBuckets[bucket] = (this.wafDurationBuckets[bucket] ?? 0) + 1;
    this.wafDurationSum += seconds;
  }

  ruleMatched(ruleId: string): void {
    this.rules.add(ruleId);
  }

  bodyInspected(direction: BodyDirection, truncated: boolean): void {
    this.bodies[direction] += 1;
    if (truncated) this.truncated[direction] += 1;
  }

  remoteConfigApplied(product: string, result: RemoteConfigResult): void {
    this.remoteConfig.add(`${product}|${result}`);
  }
}

/** A counter whose values are copied from `read` at each scrape. */
function collectedCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  read: () => Iterable<[Record<string, string>, number]>,
): void {
  registry.registerMetric(
    new Counter({
      name: PREFIX + name,
      help,
      labelNames,
      registers: [],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels, value);
      },
    }),
  );
}

/**
 * A gauge whose value is read at each scrape. `aggregator` says how the `worker="all"` series
 * combines the workers' values (`exposition.ts`): a sum for amounts, the minimum for states.
 */
function collectedGauge(
  registry: Registry,
  name: string,
  help: string,
  read: () => number,
  aggregator: "sum" | "min" = "sum",
): void {
  registry.registerMetric(
    new Gauge({
      name: PREFIX + name,
      help,
      aggregator,
      registers: [],
      collect() {
        this.set(read());
      },
    }),
  );
}

function registerStreamMetrics(registry: Registry, recorder: Recorder): void {
  collectedCounter(
    registry,
    "streams_total",
    "ext_proc streams by how they ended: passed, blocked, redirected, error, cancelled.",
    ["outcome"],
    () => STREAM_RESULTS.map((outcome) => [{ outcome }, recorder.streams[outcome]]),
  );
  collectedGauge(registry, "streams_open", "ext_proc streams open now.", () => recorder.open);
  collectedCounter(
    registry,
    "streams_refused_total",
    "New ext_proc streams refused with RESOURCE_EXHAUSTED before any message was read (load shedding), by reason: queue-delay (the worker was overloaded), open-streams (DD_SERVICE_EXTENSION_MAX_OPEN_STREAMS). Not counted in streams_total.",
    ["reason"],
    () => REFUSAL_REASONS.map((reason) => [{ reason }, recorder.refused[reason]]),
  );
  collectedCounter(
    registry,
    "protocol_errors_total",
    "Streams ended because the ext_proc protocol was broken, by error code.",
    ["code"],
    () => recorder.protocolErrors.entries((code) => ({ code })),
  );
  collectedCounter(
    registry,
    "remote_config_applies_total",
    "Remote-configuration updates applied or rejected, by product.",
    ["product", "result"],
    () =>
      recorder.remoteConfig.entries((key) => {
        const [product = "other", result = "other"] = key.split("|");
        return key === "other" ? { product: "other", result: "other" } : { product, result };
      }),
  );
}

function registerWafMetrics(registry: Registry, recorder: Recorder, sources: MetricsSources) {
  collectedCounter(registry, "waf_runs_total", "WAF runs.", [], () => [[{}, recorder.wafRuns]]);
  collectedCounter(
    registry,
    "waf_timeouts_total",
    "WAF runs that ran out of the stream's time budget (DD_APPSEC_WAF_TIMEOUT): their data was not fully inspected.",
    [],
    () => [[{}, recorder.wafTimeouts]],
  );
  collectedCounter(registry, "waf_errors_total", "WAF runs that failed.", [], () => [
    [{}, recorder.wafErrors],
  ]);
  registry.registerMetric(wafDurationHistogram(recorder));
  collectedCounter(
    registry,
    "rule_matches_total",
    `WAF rule matches by rule id (the first ${RULE_ID_CAP} ids seen, then "other").`,
    ["rule_id"],
    () => recorder.rules.entries((rule_id) => ({ rule_id })),
  );
  registerStatusGauges(registry, sources);
}

/**
 * The WAF duration histogram. prom-client's `observe` allocates per call, so buckets are counted
 * by the recorder and handed over as the histogram's values at each scrape.
 */
function wafDurationHistogram(recorder: Recorder): Histogram {
  const name = `${PREFIX}waf_run_duration_seconds`;
  const histogram: Histogram = new Histogram({
    name,
    help: "Time libddwaf reports per WAF run (failed runs excluded).",
    buckets: [...WAF_DURATION_BUCKETS],
    registers: [],
  });
  const get = histogram.get.bind(histogram);
  histogram.get = async () => {
    const metric = await get();
    const values: Array<{
      labels: Record<string, string | number>;
      value: number;
      metricName: string;
    }> = [];
    let cumulative = 0;
    const bounds = [...WAF_DURATION_BUCKETS, "+Inf"] as const;
    bounds.forEach((le, i) => {
      cumulative += recorder.wafDurationBuckets[i] ?? 0;
      values.push({ labels: { le }, value: cumulative, metricName: `${name}_bucket` });
    });
    values.push({ labels: {}, value: recorder.wafDurationSum, metricName: `${name}_sum` });
    values.push({ labels: {}, value: cumulative, metricName: `${name}_count` });
    return { ...metric, values } as typeof metric;
  };
  return histogram;
}

function registerStatusGauges(registry: Registry, sources: MetricsSources): void {
  collectedGauge(
    registry,
    "waf_ready",
    "1 when the WAF is loaded with rules and inspecting streams, 0 when requests pass uninspected (DD_APPSEC_ENABLED=false).",
    () => (sources.status().wafReady ? 1 : 0),
    "min",
  );
  collectedGauge(
    registry,
    "waf_rules_loaded",
    "Rules of the current WAF ruleset that loaded.",
    () => sources.status().loadedRules,
    "min",
  );
  collectedGauge(
    registry,
    "waf_rules_failed",
    "Rules of the current WAF ruleset that failed to load.",
    () => sources.status().failedRules,
    "min",
  );
  registry.registerMetric(
    new Gauge({
      name: `${PREFIX}waf_info`,
      help: "Always 1; labels name the libddwaf and ruleset versions in use.",
      labelNames: ["waf_version", "rules_version"],
      aggregator: "max",
      registers: [],
      collect() {
        const status = sources.status();
        this.reset();
        this.set(
          {
            waf_version: status.wafVersion ?? "none",
            rules_version: status.rulesVersion ?? "none",
          },
          1,
        );
      },
    }),
  );
}

function registerBodyMetrics(registry: Registry, recorder: Recorder, sources: MetricsSources) {
  const directions = ["request", "response"] as const;
  collectedCounter(
    registry,
    "bodies_inspected_total",
    "Request and response bodies that reached the WAF.",
    ["direction"],
    () => directions.map((direction) => [{ direction }, recorder.bodies[direction]]),
  );
  collectedCounter(
    registry,
    "bodies_truncated_total",
    "Inspected bodies cut short, at DD_APPSEC_BODY_PARSING_SIZE_LIMIT or because the body memory budget was spent.",
    ["direction"],
    () => directions.map((direction) => [{ direction }, recorder.truncated[direction]]),
  );
  collectedGauge(
    registry,
    "body_memory_used_bytes",
    "Body bytes held for analysis now (the budget is DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT).",
    () => sources.bodyBudget?.usedBytes ?? 0,
  );
  collectedGauge(
    registry,
    "body_memory_limit_bytes",
    "The body memory budget (DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT).",
    () => sources.bodyBudget?.limitBytes ?? 0,
  );
}
