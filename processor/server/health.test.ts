import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { type InspectionStatus, notInspecting } from "../metrics/index.ts";
import { createHealthServer, healthResponse } from "./health.ts";
import { createReadiness } from "./readiness.ts";

const INSPECTING: InspectionStatus = {
  appsecEnabled: true,
  wafReady: true,
  wafVersion: "1.30.1",
  rulesVersion: "1.18.0",
  loadedRules: 215,
  failedRules: 0,
  bodyInspection: true,
  blocking: true,
};

test("health says whether the WAF is loaded and inspecting", () => {
  const readiness = createReadiness();
  readiness.set("ready");
  const body = JSON.parse(
    healthResponse(readiness, { version: "1.0.0", inspection: () => INSPECTING }).body,
  );
  assert.deepEqual(body.appsec, { enabled: true });
  assert.deepEqual(body.waf, {
    ready: true,
    version: "1.30.1",
    rulesVersion: "1.18.0",
    loadedRules: 215,
    failedRules: 0,
    bodyInspection: true,
    blocking: true,
  });
});

test("AppSec off: health stays 200 (a kill switch) but says nothing is inspected", () => {
  const readiness = createReadiness();
  readiness.set("ready");
  const { status, body } = healthResponse(readiness, {
    version: "1.0.0",
    inspection: () => notInspecting(false),
  });
  assert.equal(status, 200);
  const parsed = JSON.parse(body);
  assert.equal(parsed.appsec.enabled, false);
  assert.match(parsed.appsec.warning, /not inspected/);
  assert.equal(parsed.waf.ready, false);
  assert.equal(parsed.waf.loadedRules, 0);
});

test("GET /metrics answers the exposition; every other path is the health check", async (t) => {
  const readiness = createReadiness();
  const server = createHealthServer(readiness, {
    version: "1.0.0",
    inspection: () => INSPECTING,
    metrics: async () => ({ contentType: "text/plain; version=0.0.4", body: "up 1\n" }),
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 200, "metrics are served while starting too");
  assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain/);
  assert.equal(await metrics.text(), "up 1\n");
  const health = await fetch(`${base}/metrics/other`);
  assert.equal(health.status, 503);
  assert.equal(((await health.json()) as { status: string }).status, "starting");
});

test("a failing metrics source answers 500, and health keeps working", async (t) => {
  const readiness = createReadiness();
  readiness.set("ready");
  const server = createHealthServer(readiness, {
    version: "1.0.0",
    inspection: () => INSPECTING,
    metrics: () => Promise.reject(new Error("boom")),
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  assert.equal((await fetch(`${base}/metrics`)).status, 500);
  assert.equal((await fetch(`${base}/`)).status, 200);
});
