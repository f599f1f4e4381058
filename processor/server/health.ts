/**
 * The HTTP health server on DD_SERVICE_EXTENSION_HEALTHCHECK_PORT. Like the Go image it answers
 * every path and method with JSON of the same shape; unlike it, it has a readiness meaning:
 * 200 only once the processor is ready, 503 while starting or draining, so Kubernetes routes no
 * traffic to a pod whose WAF is not loaded or that is shutting down. It also says whether the pod
 * inspects at all (`waf`), and serves Prometheus metrics on `GET /metrics`.
 */
import { createServer, type Server } from "node:http";
import type { InspectionStatus } from "../metrics/index.ts";
import type { Readiness } from "./readiness.ts";

/** What the health JSON reports besides the state. */
export interface HealthInfo {
  /** The processor's version (DD_VERSION or the package version). */
  readonly version: string;
  /** Whether the WAF is loaded and inspecting (it changes when rules are replaced). */
  readonly inspection: () => InspectionStatus;
  /** The Prometheus text exposition, for `GET /metrics`. */
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
}

/** The health JSON body and status for the current state. */
export function healthResponse(
  readiness: Readiness,
  info: HealthInfo,
): { status: number; body: string } {
  const ready = readiness.state === "ready";
  const inspection = info.inspection();
  const body = {
    status: ready ? "ok" : readiness.state,
    library: { language: "nodejs", version: info.version },
    appsec: inspection.appsecEnabled
      ? { enabled: true }
      : {
          enabled: false,
          warning: "App and API Protection is disabled: requests are not inspected",
        },
    waf: {
      ready: inspection.wafReady,
      version: inspection.wafVersion,
      rulesVersion: inspection.rulesVersion,
      loadedRules: inspection.loadedRules,
      failedRules: inspection.failedRules,
      bodyInspection: inspection.bodyInspection,
      blocking: inspection.blocking,
    },
  };
  return { status: ready ? 200 : 503, body: JSON.stringify(body) };
}

/** Creates the (unstarted) health HTTP server. */
export function createHealthServer(readiness: Readiness, info: HealthInfo): Server {
  return createServer((request, response) => {
    if (info.metrics && request.method === "GET" && request.url?.split("?")[0] === "/metrics") {
      info.metrics().then(
        ({ contentType, body }) => answer(response, 200, contentType, body),
        (error: unknown) =>
          answer(response, 500, "text/plain", `metrics failed: ${String(error)}\n`),
      );
      return;
    }
    const { status, body } = healthResponse(readiness, info);
    answer(
      response,
      status,
      "application/json",
      request.method === "HEAD" ? undefined : body,
      body,
    );
  });
}

function answer(
  response: import("node:http").ServerResponse,
  status: number,
  contentType: string,
  body: string | undefined,
  lengthOf: string | undefined = body,
): void {
  response.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(lengthOf ?? ""),
    "cache-control": "no-store",
  });
  response.end(body);
}
