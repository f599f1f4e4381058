/**
 * The HTTP health server on DD_SERVICE_EXTENSION_HEALTHCHECK_PORT. Like the Go image it answers
 * every path and method with JSON of the same shape; unlike it, it has a readiness meaning:
 * 200 only once the processor is ready, 503 while starting or draining, so Kubernetes routes no
 * traffic to a pod whose WAF is not loaded or that is shutting down.
 */
import { createServer, type Server } from "node:http";
import type { Readiness } from "./readiness.ts";

/** What the health JSON reports besides the state. */
export interface HealthInfo {
  /** The processor's version (DD_VERSION or the package version). */
  readonly version: string;
  /** False when App and API Protection is turned off (DD_APPSEC_ENABLED=false). */
  readonly appsecEnabled: boolean;
}

/** The health JSON body and status for the current state. */
export function healthResponse(
  readiness: Readiness,
  info: HealthInfo,
): { status: number; body: string } {
  const ready = readiness.state === "ready";
  const body = {
    status: ready ? "ok" : readiness.state,
    library: { language: "nodejs", version: info.version },
    appsec: info.appsecEnabled
      ? { enabled: true }
      : {
          enabled: false,
          warning: "App and API Protection is disabled: requests are not inspected",
        },
  };
  return { status: ready ? 200 : 503, body: JSON.stringify(body) };
}

/** Creates the (unstarted) health HTTP server. */
export function createHealthServer(readiness: Readiness, info: HealthInfo): Server {
  return createServer((request, response) => {
    const { status, body } = healthResponse(readiness, info);
    response.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-store",
    });
    response.end(request.method === "HEAD" ? undefined : body);
  });
}
