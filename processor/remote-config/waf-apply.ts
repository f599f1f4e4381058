/**
 * Remote Configuration applied to the WAF, and the same configuration copied to other processes.
 *
 * The process that polls (the primary, or a process running alone) applies every change to its
 * own WAF engine: that is what decides each config's apply state. What it accepted is kept as a
 * snapshot (every accepted config, by path) that worker processes copy: a worker applies the
 * difference between the snapshot and what it already has. Same libddwaf, same inputs, so a
 * config the primary accepted loads in the workers too; a worker started later (a crash
 * replacement) asks for the snapshot before it serves.
 */
import type { Logger } from "../log.ts";
import type { WafConfigUpdate, WafEngine } from "../waf/index.ts";
import { PRODUCTS } from "./protocol.ts";
import type { ApplyOutcome, ConfigChange } from "./state.ts";

/** One accepted config. `serial` changes whenever its content does. */
export interface AcceptedConfig {
  readonly path: string;
  readonly ruleset: boolean;
  readonly serial: number;
  readonly config: object;
}

/** Every config the polling process accepted. */
export interface WafConfigSnapshot {
  readonly configs: readonly AcceptedConfig[];
}

/** Applies Remote Configuration changes to a WAF engine and keeps the accepted set. */
export interface WafApplier {
  apply(changes: readonly ConfigChange[]): ApplyOutcome[];
  snapshot(): WafConfigSnapshot;
}

/** The applier of the polling process. */
export function createWafApplier(engine: WafEngine): WafApplier {
  const accepted = new Map<string, AcceptedConfig>();
  let serial = 0;
  return {
    apply(changes) {
      const updates: WafConfigUpdate[] = changes.map((change) => ({
        path: change.path,
        ruleset: change.product === PRODUCTS.ASM_DD,
        config: change.kind === "apply" ? change.config : undefined,
      }));
      const outcomes = engine.updateConfigs(updates);
      for (const [i, outcome] of outcomes.entries()) {
        const update = updates[i];
        if (!outcome.ok || update === undefined) continue;
        if (update.config === undefined) accepted.delete(update.path);
        else {
          serial += 1;
          accepted.set(update.path, {
            path: update.path,
            ruleset: update.ruleset,
            serial,
            config: update.config,
          });
        }
      }
      return outcomes;
    },
    snapshot: () => ({ configs: [...accepted.values()] }),
  };
}

/** A worker's copy of the polling process's configuration. */
export interface WafReplica {
  /** Brings the engine to `snapshot`: unloads what is gone, loads what is new or changed. */
  sync(snapshot: WafConfigSnapshot): void;
}

/** The replica of a worker process. */
export function createWafReplica(engine: WafEngine, log: Logger): WafReplica {
  const held = new Map<string, number>();
  return {
    sync(snapshot) {
      const wanted = new Map(snapshot.configs.map((c) => [c.path, c]));
      const updates: WafConfigUpdate[] = [];
      for (const path of held.keys()) {
        if (!wanted.has(path)) updates.push({ path, ruleset: false, config: undefined });
      }
      for (const config of wanted.values()) {
        if (held.get(config.path) === config.serial) continue;
        updates.push({ path: config.path, ruleset: config.ruleset, config: config.config });
      }
      if (updates.length === 0) return;
      const outcomes = engine.updateConfigs(updates);
      for (const [i, outcome] of outcomes.entries()) {
        const update = updates[i];
        if (update === undefined) continue;
        if (update.config === undefined) held.delete(update.path);
        else if (outcome.ok) held.set(update.path, wanted.get(update.path)?.serial ?? 0);
        else {
          // The primary loaded it; a worker failing to is a bug worth seeing, not a crash.
          log.error("worker could not apply a config the primary accepted", {
            error: outcome.error,
          });
        }
      }
    },
  };
}
