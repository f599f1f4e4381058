/**
 * The processor's lifecycle as the health endpoints report it: `starting` until the WAF and the
 * listeners are up, `ready` while serving, `draining` once shutdown began. Listeners can subscribe
 * (the gRPC Watch method streams changes).
 */

/** Lifecycle states. */
export type ReadinessState = "starting" | "ready" | "draining";

/** A small observable holding the current state. */
export interface Readiness {
  readonly state: ReadinessState;
  set(state: ReadinessState): void;
  /** Calls `listener` on every change; returns an unsubscribe function. */
  subscribe(listener: (state: ReadinessState) => void): () => void;
}

/** Creates a readiness holder in `starting`. */
export function createReadiness(): Readiness {
  let state: ReadinessState = "starting";
  const listeners = new Set<(state: ReadinessState) => void>();
  return {
    get state() {
      return state;
    },
    set(next) {
      if (next === state) return;
      state = next;
      for (const listener of listeners) listener(next);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
