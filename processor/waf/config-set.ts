/**
 * The configs loaded into the engine's libddwaf builder, by path: the bundled ruleset at the
 * default path, plus whatever Remote Configuration added (rulesets, rule data, exclusions, custom
 * rules, overrides, actions). Each update is all or nothing per path: a config libddwaf rejects,
 * or loads with errors, is put back to its previous content, so one bad file never weakens what
 * is in force.
 */
import { err, ok, type Result } from "../result.ts";
import {
  addressesReadByRules,
  DEFAULT_CONFIG_PATH,
  RULE_SECTIONS,
  type RulesInfo,
  sections,
  summarise,
} from "./handle.ts";
import type { NativeDiagnostics, NativeHandle } from "./native.ts";

/** One config to load (`config` set) or unload (`config` undefined) at `path`. */
export interface WafConfigUpdate {
  readonly path: string;
  readonly config: object | undefined;
  /**
   * A whole ruleset (Remote Configuration `ASM_DD`): while at least one is loaded, the bundled
   * ruleset is unloaded; when none is left, the bundled ruleset comes back.
   */
  readonly ruleset: boolean;
}

/**
 * How one {@link WafConfigUpdate} went, by path; the error says why it failed, and the previous
 * content of the path stays.
 */
export type WafUpdateOutcome = { readonly path: string } & Result<undefined, string>;

interface Entry {
  readonly config: object;
  readonly ruleset: boolean;
  readonly info: RulesInfo;
  /** Order of loading: the most recent ruleset gives the rules version. */
  readonly serial: number;
}

/** The configs of one libddwaf builder. */
export class ConfigSet {
  readonly #entries = new Map<string, Entry>();
  readonly #defaultRules: object;
  #serial = 0;

  /** `defaultRules` is what the handle was built with, at {@link DEFAULT_CONFIG_PATH}. */
  constructor(defaultRules: object, defaultInfo: RulesInfo) {
    this.#defaultRules = defaultRules;
    this.#entries.set(DEFAULT_CONFIG_PATH, {
      config: defaultRules,
      ruleset: true,
      info: defaultInfo,
      serial: this.#serial++,
    });
  }

  /** Paths loaded, the bundled one included. */
  get paths(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * Applies `updates` to `native`: removals first, then loads sorted by path. Returns one outcome
   * per update, in the order given.
   */
  apply(native: NativeHandle, updates: readonly WafConfigUpdate[]): WafUpdateOutcome[] {
    const outcomes = new Map<string, WafUpdateOutcome>();
    for (const update of updates) {
      if (update.config !== undefined) continue;
      if (this.#entries.has(update.path) && update.path !== DEFAULT_CONFIG_PATH) {
        native.removeConfig(update.path);
        this.#entries.delete(update.path);
      }
      outcomes.set(update.path, { path: update.path, ...ok(undefined) });
    }
    const loads = updates
      .filter((u) => u.config !== undefined)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const update of loads) {
      if (update.path === DEFAULT_CONFIG_PATH) {
        outcomes.set(update.path, { path: update.path, ...err("reserved config path") });
        continue;
      }
      if (update.ruleset && this.#entries.has(DEFAULT_CONFIG_PATH)) {
        native.removeConfig(DEFAULT_CONFIG_PATH);
        this.#entries.delete(DEFAULT_CONFIG_PATH);
      }
      outcomes.set(
        update.path,
        this.#load(native, update.path, update.config ?? {}, update.ruleset),
      );
    }
    if (![...this.#entries.values()].some((e) => e.ruleset)) {
      this.#load(native, DEFAULT_CONFIG_PATH, this.#defaultRules, true);
    }
    return updates.map((u) => outcomes.get(u.path) ?? { path: u.path, ...ok(undefined) });
  }

  #load(native: NativeHandle, path: string, config: object, ruleset: boolean): WafUpdateOutcome {
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
      return { path, ...err("config is not a JSON object") };
    }
    const previous = this.#entries.get(path);
    let loaded: boolean;
    try {
      loaded = native.createOrUpdateConfig(config, path);
    } catch (cause) {
      return { path, ...err(`libddwaf refused the config: ${String(cause)}`) };
    }
    const diagnostics = native.diagnostics;
    const info = summarise(diagnostics, addressesReadByRules(config));
    // A ruleset may carry rules this libddwaf cannot load (as at startup, they are logged and
    // the others serve); anything else that fails refuses the whole config.
    const problems = loaded ? diagnosticErrors(diagnostics, ruleset) : [];
    if (loaded && problems.length === 0 && !(ruleset && info.loadedRules === 0)) {
      this.#entries.set(path, { config, ruleset, info, serial: this.#serial++ });
      return { path, ...ok(undefined) };
    }
    // Partly loaded, or rejected (libddwaf may then have dropped the path's previous content):
    // put the previous content back so the path is all or nothing.
    if (previous !== undefined) native.createOrUpdateConfig(previous.config, path);
    else native.removeConfig(path);
    const reason = !loaded
      ? `libddwaf rejected the config${describeDiagnostics(diagnostics)}`
      : problems.length > 0
        ? problems.join("; ")
        : "the ruleset loaded no rule";
    return { path, ...err(reason) };
  }

  /** The summary of everything loaded: rules counted over all paths, newest ruleset's version. */
  info(): RulesInfo {
    let loadedRules = 0;
    const failedRules: string[] = [];
    const ruleAddresses = new Set<string>();
    let newestRuleset: Entry | undefined;
    for (const entry of this.#entries.values()) {
      loadedRules += entry.info.loadedRules;
      failedRules.push(...entry.info.failedRules);
      for (const address of entry.info.ruleAddresses) ruleAddresses.add(address);
      if (entry.ruleset && (newestRuleset === undefined || entry.serial > newestRuleset.serial)) {
        newestRuleset = entry;
      }
    }
    return Object.freeze({
      rulesVersion: newestRuleset?.info.rulesVersion,
      loadedRules,
      failedRules: Object.freeze(failedRules),
      ruleAddresses,
    });
  }
}

/** libddwaf's errors for one update, as short `section: error (ids)` strings. */
function diagnosticErrors(diagnostics: NativeDiagnostics, tolerateRuleItems = false): string[] {
  const out: string[] = [];
  for (const [name, section] of sections(diagnostics)) {
    if (section.error !== undefined) out.push(`${name}: ${section.error}`);
    if (tolerateRuleItems && RULE_SECTIONS.includes(name)) continue;
    for (const [error, ids] of Object.entries(section.errors ?? {})) {
      out.push(`${name}: ${error} (${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", ..." : ""})`);
    }
  }
  return out;
}

function describeDiagnostics(diagnostics: NativeDiagnostics): string {
  const errors = diagnosticErrors(diagnostics);
  return errors.length > 0 ? `: ${errors.join("; ")}` : "";
}
