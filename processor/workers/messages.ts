/** What the primary and its workers tell each other over the cluster IPC channel. */

/** Worker → primary: the worker's gRPC listener is up and its WAF loaded. */
export type WorkerMessage = { readonly kind: "ready" };

/** Primary → worker: drain and exit (the pod is shutting down). */
export type PrimaryMessage = { readonly kind: "drain" };

/** True when an IPC message is a {@link WorkerMessage}. */
export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return (message as { kind?: unknown } | null)?.kind === "ready";
}

/** True when an IPC message is a {@link PrimaryMessage}. */
export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return (message as { kind?: unknown } | null)?.kind === "drain";
}
