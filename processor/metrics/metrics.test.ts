import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sampleValue } from "../../test/support/prometheus.ts";
import { CappedLabels } from "./capped-labels.ts";
import { renderMetrics, workerGauges } from "./exposition.ts";
import { createMetrics, RULE_ID_CAP } from "./registry.ts";
import { type InspectionStatus, NO_METRICS, notInspecting } from "./types.ts";

const READY: InspectionStatus = {
  appsecEnabled: true,
  wafReady: true,
  wafVersion: "1.30.1",
  rulesVersion: "1.18.0",
  loadedRules: 215,
  failedRules: 1,
  bodyInspection: true,
  blocking: true,
};

async function scrape(...processes: ReturnType<typeof createMetrics>[]) {
  const { body, contentType } = await renderMetrics(
    await Promise.all(processes.map((process) => process.snapshot())),
  );
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  return body;
}

describe("metrics", () => {
  test("streams by outcome and open streams, per worker and summed", async () => {
    const one = createMetrics({ worker: "1", status: () => READY });
    const two = createMetrics({ worker: "2", status: () => READY });
    one.metrics.streamOpened();
    one.metrics.streamClosed("passed");
    one.metrics.streamOpened();
    one.metrics.streamClosed("blocked");
    two.metrics.streamOpened();
    two.metrics.streamClosed("blocked");
    two.metrics.streamOpened();
    const text = await scrape(one, two);
    const streams = (outcome: string, worker: string) =>
      sampleValue(text, "aap_extproc_streams_total", { outcome, worker });
    assert.equal(streams("passed", "1"), 1);
    assert.equal(streams("blocked", "1"), 1);
    assert.equal(streams("blocked", "2"), 1);
    assert.equal(streams("blocked", "all"), 2);
    assert.equal(streams("redirected", "all"), 0, "every outcome is listed from the start");
    assert.equal(sampleValue(text, "aap_extproc_streams_open", { worker: "2" }), 1);
    assert.equal(sampleValue(text, "aap_extproc_streams_open", { worker: "all" }), 1);
  });

  test("streams refused by load shedding, by reason, apart from the streams served", async () => {
    const one = createMetrics({ worker: "1", status: () => READY });
    const two = createMetrics({ worker: "2", status: () => READY });
    one.metrics.streamRefused("queue-delay");
    one.metrics.streamRefused("queue-delay");
    two.metrics.streamRefused("open-streams");
    const text = await scrape(one, two);
    const refused = (reason: string, worker: string) =>
      sampleValue(text, "aap_extproc_streams_refused_total", { reason, worker });
    assert.equal(refused("queue-delay", "1"), 2);
    assert.equal(refused("open-streams", "1"), 0, "every reason is listed from the start");
    assert.equal(refused("queue-delay", "all"), 2);
    assert.equal(refused("open-streams", "all"), 1);
    assert.equal(
      sampleValue(text, "aap_extproc_streams_total", { outcome: "passed", worker: "all" }),
      0,
    );
  });

  test("WAF runs, timeouts, errors and the duration histogram", async () => {
    const process = createMetrics({ worker: "0", status: () => READY });
    process.metrics.wafRun(40, false, false);
    process.metrics.wafRun(12_000, true, false);
    process.metrics.wafRun(0, false, true);
    const text = await scrape(process);
    const at = { worker: "0" };
    assert.equal(sampleValue(text, "aap_extproc_waf_runs_total", at), 3);
    assert.equal(sampleValue(text, "aap_extproc_waf_timeouts_total", at), 1);
    assert.equal(sampleValue(text, "aap_extproc_waf_errors_total", at), 1);
    const bucket = (le: string) =>
      sampleValue(text, "aap_extproc_waf_run_duration_seconds_bucket", { le, worker: "0" });
    assert.equal(bucket("0.000025"), 0);
    assert.equal(bucket("0.00005"), 1);
    assert.equal(bucket("0.01"), 1);
    assert.equal(bucket("0.025"), 2);
    assert.equal(bucket("+Inf"), 2, "failed runs have no duration");
    assert.equal(sampleValue(text, "aap_extproc_waf_run_duration_seconds_count", at), 2);
    const sum = sampleValue(text, "aap_extproc_waf_run_duration_seconds_sum", at) ?? 0;
    assert.ok(Math.abs(sum - 0.01204) < 1e-9, `sum ${sum}`);
  });

  test("rule matches by rule id; ids past the cap and odd values count as other", async () => {
    const process = createMetrics({ worker: "0", status: () => READY });
    process.metrics.ruleMatched("crs-942-100");
    process.metrics.ruleMatched("crs-942-100");
    process.metrics.ruleMatched('bad"id\n');
    for (let i = 0; i < RULE_ID_CAP + 50; i++) process.metrics.ruleMatched(`rule-${i}`);
    const text = await scrape(process);
    const matches = (rule_id: string) =>
      sampleValue(text, "aap_extproc_rule_matches_total", { rule_id, worker: "0" });
    assert.equal(matches("crs-942-100"), 2);
    assert.equal(matches("rule-0"), 1);
    const series = text
      .split("\n")
      .filter((line) => line.startsWith("aap_extproc_rule_matches_total{"));
    assert.ok(series.length <= 2 * (RULE_ID_CAP + 1), `${series.length} series`);
    // 1 odd id, plus the ids seen after the cap was reached.
    const kept = series.filter((line) => line.includes('worker="0"')).length - 1;
    assert.equal(matches("other"), 1 + (RULE_ID_CAP + 50 - (kept - 1)));
  });

  test("bodies inspected and truncated, and the body memory budget", async () => {
    const bodyBudget = { usedBytes: 4096, limitBytes: 1 << 20 };
    const process = createMetrics({ worker: "0", status: () => READY, bodyBudget });
    process.metrics.bodyInspected("request", false);
    process.metrics.bodyInspected("request", true);
    process.metrics.bodyInspected("response", true);
    const text = await scrape(process);
    const at = (direction: string) => ({ direction, worker: "0" });
    assert.equal(sampleValue(text, "aap_extproc_bodies_inspected_total", at("request")), 2);
    assert.equal(sampleValue(text, "aap_extproc_bodies_truncated_total", at("request")), 1);
    assert.equal(sampleValue(text, "aap_extproc_bodies_truncated_total", at("response")), 1);
    assert.equal(sampleValue(text, "aap_extproc_body_memory_used_bytes", { worker: "0" }), 4096);
    assert.equal(
      sampleValue(text, "aap_extproc_body_memory_limit_bytes", { worker: "0" }),
      1 << 20,
    );
  });

  test("protocol errors by code, remote-configuration applies by product and result", async () => {
    const process = createMetrics({ worker: "0", status: () => READY });
    process.metrics.protocolError("body-after-end");
    process.metrics.protocolError("undecodable-message");
    process.metrics.remoteConfigApplied("ASM_DD", "applied");
    process.metrics.remoteConfigApplied("ASM_DD", "applied");
    process.metrics.remoteConfigApplied("ASM_DATA", "rejected");
    const text = await scrape(process);
    const errors = (code: string) =>
      sampleValue(text, "aap_extproc_protocol_errors_total", { code, worker: "0" });
    assert.equal(errors("body-after-end"), 1);
    assert.equal(errors("undecodable-message"), 1);
    assert.equal(errors("missing-request"), 0);
    const applies = (product: string, result: string) =>
      sampleValue(text, "aap_extproc_remote_config_applies_total", {
        product,
        result,
        worker: "0",
      });
    assert.equal(applies("ASM_DD", "applied"), 2);
    assert.equal(applies("ASM_DATA", "rejected"), 1);
  });

  test("WAF state: ready, rule counts and versions; all workers ready only if each is", async () => {
    const ready = createMetrics({ worker: "1", status: () => READY });
    const off = createMetrics({ worker: "2", status: () => notInspecting(false) });
    const text = await scrape(ready, off);
    assert.equal(sampleValue(text, "aap_extproc_waf_ready", { worker: "1" }), 1);
    assert.equal(sampleValue(text, "aap_extproc_waf_ready", { worker: "2" }), 0);
    assert.equal(sampleValue(text, "aap_extproc_waf_ready", { worker: "all" }), 0);
    assert.equal(sampleValue(text, "aap_extproc_waf_rules_loaded", { worker: "1" }), 215);
    assert.equal(sampleValue(text, "aap_extproc_waf_rules_failed", { worker: "1" }), 1);
    assert.equal(
      sampleValue(text, "aap_extproc_waf_info", {
        waf_version: "1.30.1",
        rules_version: "1.18.0",
        worker: "1",
      }),
      1,
    );
  });

  test("process metrics per worker; the primary's worker gauges", async () => {
    const process = createMetrics({ worker: "3", status: () => READY });
    const { body } = await renderMetrics([await process.snapshot()], await workerGauges(2, 1));
    assert.ok((sampleValue(body, "process_resident_memory_bytes", { worker: "3" }) ?? 0) > 0);
    assert.match(body, /^aap_extproc_workers_live 2$/m);
    assert.match(body, /^aap_extproc_workers_scraped 1$/m);
  });

  test("NO_METRICS records nothing and never throws", () => {
    NO_METRICS.streamOpened();
    NO_METRICS.streamClosed("passed");
    NO_METRICS.streamRefused("queue-delay");
    NO_METRICS.wafRun(1, false, false);
    NO_METRICS.ruleMatched("x");
    NO_METRICS.bodyInspected("request", true);
    NO_METRICS.protocolError("x");
    NO_METRICS.remoteConfigApplied("ASM", "applied");
    assert.ok(Object.isFrozen(NO_METRICS));
  });
});

test("capped labels: presets listed at zero, a cap, then other", () => {
  const labels = new CappedLabels(3, ["a"]);
  for (const value of ["b", "c", "d", "a", "b"]) labels.add(value);
  const counts = Object.fromEntries(
    [...labels.entries((value) => ({ value }))].map(([l, n]) => [l.value, n]),
  );
  assert.deepEqual(counts, { a: 1, b: 2, c: 1, other: 1 });
});
