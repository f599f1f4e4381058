/** What the primary and its workers tell each other over the cluster IPC channel. */
import type { InspectionStatus, MetricsSnapshot } from "../metrics/index.ts";
import type { WafConfigSnapshot } from "../remote-config/index.ts";

/**
 * Worker → primary: `ready` once the worker's gRPC listener is up and its WAF loaded (with the
 * WAF's state, for the health check); `metrics` answers a scrape; `waf-configs-request` asks for
 * the current Remote Configuration (once, at startup, before the worker serves).
 */
export type WorkerMessage =
  | { readonly kind: "ready"; readonly status?: InspectionStatus }
  | { readonly kind: "metrics"; readonly id: number; readonly snapshot: MetricsSnapshot }
  | { readonly kind: "waf-configs-request" };

/**
 * Primary → worker: `drain` and exit (the pod is shutting down), or send your `metrics`, or
 * `waf-configs`: the whole Remote Configuration the primary accepted, to apply (sent at a
 * worker's request and after every change).
 */
export type PrimaryMessage =
  | { readonly kind: "drain" }
  | { readonly kind: "metrics"; readonly id: number }
  | { readonly kind: "waf-configs"; readonly snapshot: WafConfigSnapshot };

/** True when an IPC message is a {@link WorkerMessage}. */
export function isWorkerMessage(message: unknown): message is WorkerMessage {
  const kind = (message as { kind?: unknown } | null)?.kind;
  return kind === "ready" || kind === "metrics" || kind === "waf-configs-request";
}

/** True when an IPC message is a {@link PrimaryMessage}. */
export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  const kind = (message as { kind?: unknown } | null)?.kind;
  if (kind === "waf-configs") {
    return Array.isArray((message as { snapshot?: { configs?: unknown } }).snapshot?.configs);
  }
  return kind === "drain" || kind === "metrics";
}
