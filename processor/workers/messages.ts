/** What the primary and its workers tell each other over the cluster IPC channel. */
import type { InspectionStatus, MetricsSnapshot } from "../metrics/index.ts";

/**
 * Worker → primary: `ready` once the worker's gRPC listener is up and its WAF loaded (with the
 * WAF's state, for the health check); `metrics` answers a scrape.
 */
export type WorkerMessage =
  | { readonly kind: "ready"; readonly status?: InspectionStatus }
  | { readonly kind: "metrics"; readonly id: number; readonly snapshot: MetricsSnapshot };

/** Primary → worker: `drain` and exit (the pod is shutting down), or send your `metrics`. */
export type PrimaryMessage =
  | { readonly kind: "drain" }
  | { readonly kind: "metrics"; readonly id: number };

/** True when an IPC message is a {@link WorkerMessage}. */
export function isWorkerMessage(message: unknown): message is WorkerMessage {
  const kind = (message as { kind?: unknown } | null)?.kind;
  return kind === "ready" || kind === "metrics";
}

/** True when an IPC message is a {@link PrimaryMessage}. */
export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  const kind = (message as { kind?: unknown } | null)?.kind;
  return kind === "drain" || kind === "metrics";
}
