/**
 * The primary's side of a metrics scrape: it asks every live worker for its metrics over the
 * cluster IPC channel and waits for the answers, at most `timeoutMs`. A worker that does not
 * answer in time (busy, stuck or exiting) is left out of this scrape rather than failing it; the
 * scrape says how many workers answered (`aap_extproc_workers_scraped`).
 */
import type { Worker } from "node:cluster";
import type { MetricsSnapshot } from "../metrics/index.ts";
import { isWorkerMessage, type PrimaryMessage } from "./messages.ts";

let nextId = 0;

/** The snapshots of the workers that answered within `timeoutMs`. */
export function scrapeWorkers(
  workers: readonly Worker[],
  timeoutMs: number,
): Promise<MetricsSnapshot[]> {
  const id = nextId++;
  const snapshots: MetricsSnapshot[] = [];
  return new Promise((resolve) => {
    const listeners = new Map<Worker, (message: unknown) => void>();
    const done = () => {
      clearTimeout(timer);
      for (const [worker, listener] of listeners) worker.off("message", listener);
      resolve(snapshots);
    };
    const timer = setTimeout(done, timeoutMs);
    let pending = 0;
    for (const worker of workers) {
      if (!worker.isConnected()) continue;
      const listener = (message: unknown) => {
        if (!isWorkerMessage(message) || message.kind !== "metrics" || message.id !== id) return;
        snapshots.push(message.snapshot);
        worker.off("message", listener);
        listeners.delete(worker);
        pending -= 1;
        if (pending === 0) done();
      };
      listeners.set(worker, listener);
      worker.on("message", listener);
      pending += 1;
      const request: PrimaryMessage = { kind: "metrics", id };
      // With a callback, a closed channel is reported here instead of as an 'error' event.
      worker.send(request, (error: Error | null) => {
        if (error) listener({ kind: "metrics", id, snapshot: [] });
      });
    }
    if (pending === 0) done();
  });
}
