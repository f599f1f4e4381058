/**
 * `/metrics` on the health port of the real processor: with two workers each series comes per
 * worker (`worker="1"`, `worker="2"`) and summed (`worker="all"`); alone, as worker 0. Streams
 * that pass, are blocked, break the protocol or are cancelled are counted, with the WAF runs, their
 * duration histogram, the rule the attack matched and the inspected bodies.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createClient, exchange, openStream, status } from "../support/grpc-client.ts";
import {
  getHeaders,
  headerList,
  kindOf,
  requestBody,
  requestHeaders,
  responseHeaders,
} from "../support/messages.ts";
import { getHealth, type ProcessorProcess, startProcessor } from "../support/processor-process.ts";
import { sampleValue } from "../support/prometheus.ts";

const BLOCKING_UA = "dd-test-scanner-log-block";
const BLOCKING_RULE = "ua0-600-56x";

async function scrape(processor: ProcessorProcess): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${processor.healthPort}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** One stream on its own connection (the primary hands connections to the workers in turn). */
type StreamKind = "benign" | "attack" | "broken" | "body" | "cancelled";

async function runStream(processor: ProcessorProcess, kind: StreamKind) {
  const client = createClient(`127.0.0.1:${processor.grpcPort}`);
  try {
    const stream = openStream(client);
    if (kind === "broken") {
      stream.send(responseHeaders({ ":status": "200" }, true));
      assert.equal((await stream.status).code, status.INVALID_ARGUMENT);
      return;
    }
    if (kind === "cancelled" || kind === "body") {
      const post = headerList("POST", "/orders", { "content-type": "application/json" });
      await exchange(stream, requestHeaders(post, false));
      if (kind === "cancelled") {
        stream.cancel();
        await stream.status;
        return;
      }
      assert.equal(
        kindOf(await exchange(stream, requestBody('{"item": 42}', true))),
        "requestBody",
      );
      await exchange(stream, responseHeaders({ ":status": "201" }, true));
      assert.equal((await stream.status).code, status.OK);
      return;
    }
    const headers =
      kind === "attack" ? getHeaders("/", { "user-agent": BLOCKING_UA }) : getHeaders("/ok");
    const reply = await exchange(stream, requestHeaders(headers, true));
    if (kind === "attack") {
      assert.equal(kindOf(reply), "immediateResponse");
    } else {
      await exchange(stream, responseHeaders({ ":status": "200" }, true));
    }
    assert.equal((await stream.status).code, status.OK);
  } finally {
    client.close();
  }
}

/** The value of `name{labels, worker}` for each worker label, and for `all`. */
function perWorker(text: string, name: string, labels: Record<string, string>, workers: string[]) {
  return Object.fromEntries(
    [...workers, "all"].map((worker) => [worker, sampleValue(text, name, { ...labels, worker })]),
  );
}

describe("metrics", () => {
  test("two workers: streams, WAF runs and rule matches per worker and summed", async (t) => {
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_SERVICE_EXTENSION_WORKERS: "2",
    });
    t.after(() => processor.stop());
    const plan: StreamKind[] = [
      ...Array<StreamKind>(4).fill("benign"),
      ...Array<StreamKind>(2).fill("attack"),
      ...Array<StreamKind>(2).fill("broken"),
      "body",
      "cancelled",
    ];
    for (const kind of plan) await runStream(processor, kind);
    // The worker learns of a cancellation asynchronously (RST_STREAM): scrape until it counted it.
    let text = await scrape(processor);
    for (let i = 0; i < 50; i++) {
      if (sampleValue(text, "aap_extproc_streams_total", { outcome: "cancelled", worker: "all" }))
        break;
      await new Promise((resolve) => setTimeout(resolve, 100));
      text = await scrape(processor);
    }
    const workers = ["1", "2"];
    const sumOfWorkers = (values: Record<string, number | undefined>) =>
      workers.reduce((sum, worker) => sum + (values[worker] ?? Number.NaN), 0);

    for (const [outcome, expected] of [
      ["passed", 5],
      ["blocked", 2],
      ["error", 2],
      ["redirected", 0],
      ["cancelled", 1],
    ] as const) {
      const values = perWorker(text, "aap_extproc_streams_total", { outcome }, workers);
      assert.equal(values.all, expected, `${outcome}: ${JSON.stringify(values)}`);
      assert.equal(sumOfWorkers(values), expected, `${outcome} per worker`);
    }
    const served = workers.map((worker) =>
      ["passed", "blocked", "error"]
        .map((outcome) => sampleValue(text, "aap_extproc_streams_total", { outcome, worker }) ?? 0)
        .reduce((a, b) => a + b),
    );
    assert.ok(
      served.every((count) => count > 0),
      `both workers served: ${served}`,
    );

    const errors = perWorker(
      text,
      "aap_extproc_protocol_errors_total",
      { code: "response-before-request" },
      workers,
    );
    assert.equal(errors.all, 2);
    const matches = perWorker(
      text,
      "aap_extproc_rule_matches_total",
      { rule_id: BLOCKING_RULE },
      workers,
    );
    assert.equal(matches.all, 2, JSON.stringify(matches));

    // Benign streams run the WAF on request and response headers, attacks once.
    const runs = perWorker(text, "aap_extproc_waf_runs_total", {}, workers);
    assert.ok((runs.all ?? 0) >= 6, JSON.stringify(runs));
    assert.equal(sumOfWorkers(runs), runs.all);
    const count = perWorker(text, "aap_extproc_waf_run_duration_seconds_count", {}, workers);
    assert.equal(count.all, runs.all, "every run that did not fail is in the histogram");
    assert.equal(
      sampleValue(text, "aap_extproc_waf_run_duration_seconds_bucket", {
        le: "+Inf",
        worker: "all",
      }),
      runs.all,
    );
    assert.equal(sampleValue(text, "aap_extproc_waf_timeouts_total", { worker: "all" }), 0);
    const bodies = (name: string) =>
      sampleValue(text, name, { direction: "request", worker: "all" });
    assert.equal(bodies("aap_extproc_bodies_inspected_total"), 1);
    assert.equal(bodies("aap_extproc_bodies_truncated_total"), 0);
    assert.equal(sampleValue(text, "aap_extproc_body_memory_used_bytes", { worker: "all" }), 0);
    assert.ok(
      (sampleValue(text, "aap_extproc_body_memory_limit_bytes", { worker: "all" }) ?? 0) > 0,
    );
    assert.equal(sampleValue(text, "aap_extproc_streams_open", { worker: "all" }), 0);

    for (const worker of [...workers, "all"]) {
      assert.equal(sampleValue(text, "aap_extproc_waf_ready", { worker }), 1, worker);
      assert.ok((sampleValue(text, "aap_extproc_waf_rules_loaded", { worker }) ?? 0) > 150);
    }
    assert.equal(sampleValue(text, "aap_extproc_workers_live"), 2);
    assert.equal(sampleValue(text, "aap_extproc_workers_scraped"), 2);
    assert.ok((sampleValue(text, "process_resident_memory_bytes", { worker: "1" }) ?? 0) > 0);

    const health = await getHealth(processor.healthPort ?? 0);
    const waf = health.body.waf as Record<string, unknown>;
    assert.equal(waf.ready, true);
    assert.ok(Number(waf.loadedRules) > 150);
    assert.match(String(waf.rulesVersion), /^\d+\.\d+\.\d+$/);
  });

  test("alone: one process labelled worker 0, plus the sum", async (t) => {
    const processor = await startProcessor({ DD_SERVICE_EXTENSION_TLS: "false" });
    t.after(() => processor.stop());
    await runStream(processor, "attack");
    const text = await scrape(processor);
    for (const worker of ["0", "all"]) {
      assert.equal(
        sampleValue(text, "aap_extproc_streams_total", { outcome: "blocked", worker }),
        1,
      );
      assert.equal(
        sampleValue(text, "aap_extproc_rule_matches_total", { rule_id: BLOCKING_RULE, worker }),
        1,
      );
    }
    assert.equal(sampleValue(text, "aap_extproc_workers_live"), undefined);
  });

  test("AppSec off: streams pass, and health and metrics say nothing is inspected", async (t) => {
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_APPSEC_ENABLED: "false",
    });
    t.after(() => processor.stop());
    assert.ok(
      processor.logs.some((line) => line.level === "warn" && /DISABLED/.test(String(line.msg))),
    );
    await runStream(processor, "benign");
    const text = await scrape(processor);
    assert.equal(sampleValue(text, "aap_extproc_waf_ready", { worker: "0" }), 0);
    assert.equal(sampleValue(text, "aap_extproc_waf_runs_total", { worker: "0" }), 0);
    assert.equal(
      sampleValue(text, "aap_extproc_streams_total", { outcome: "passed", worker: "0" }),
      1,
    );
    const health = await getHealth(processor.healthPort ?? 0);
    assert.equal(health.status, 200);
    assert.equal((health.body.waf as Record<string, unknown>).ready, false);
  });
});
