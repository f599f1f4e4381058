/**
 * The WAF engine: the loaded ruleset, shared by every stream, and the factory of per-stream
 * contexts. Built once at startup; its rules can be replaced at runtime (Remote Configuration)
 * without disturbing streams that hold a context of the previous rules.
 */
import type { Logger } from "../log.ts";
import { err, ok, type Result } from "../result.ts";
import { ADDRESSES } from "./addresses.ts";
import { ConfigSet, type WafConfigUpdate, type WafUpdateOutcome } from "./config-set.ts";
import { createWafContext, type LiveCount, type WafContext } from "./context.ts";
import { WafLoadError } from "./errors.ts";
import { buildHandle, type HandleRef, type RulesInfo } from "./handle.ts";
import { loadNativeBinding, type NativeBinding, type NativeOptions } from "./native.ts";
import { DEFAULT_OBFUSCATOR_KEY_REGEX, DEFAULT_OBFUSCATOR_VALUE_REGEX } from "./obfuscation.ts";
import { readRulesFile, recommendedRulesPath } from "./ruleset.ts";

/** Options of {@link createWafEngine}. */
export interface WafEngineOptions {
  /** Ruleset file (`DD_APPSEC_RULES`). Default: the recommended ruleset shipped in dd-trace. */
  rulesPath?: string | undefined;
  /** `DD_APPSEC_OBFUSCATION_PARAMETER_KEY_REGEXP`; default dd-trace's (`obfuscation.ts`). */
  obfuscatorKeyRegex?: string | undefined;
  /** `DD_APPSEC_OBFUSCATION_PARAMETER_VALUE_REGEXP`; default dd-trace's (`obfuscation.ts`). */
  obfuscatorValueRegex?: string | undefined;
  log: Logger;
}

/** The process-wide WAF. */
export interface WafEngine {
  /** libddwaf version, e.g. `1.30.1`. */
  readonly wafVersion: string;
  /** `metadata.rules_version` of the current ruleset, if it has one. */
  readonly rulesVersion: string | undefined;
  /** Rules loaded by the current ruleset. */
  readonly loadedRules: number;
  /** Ids of the current ruleset's rules that failed to load. */
  readonly failedRules: readonly string[];
  /** A context for one stream, on the current rules. Never throws (see `createWafContext`). */
  createContext(): WafContext;
  /**
   * Contexts of this engine created and not yet disposed. Each holds libddwaf memory: a count
   * that does not return to zero once no stream is open is a leak.
   */
  readonly openContexts: number;
  /**
   * Loads `rules` (a parsed ruleset) into a new libddwaf handle and makes it current, and returns
   * what loaded. Contexts of the previous handle keep working; that handle is freed when the last
   * of them is disposed. On failure the previous rules stay in force.
   */
  replaceRules(rules: object): Result<RulesInfo, WafLoadError>;
  /**
   * Loads and unloads configs by path on the current handle (Remote Configuration), as one
   * atomic swap: contexts created before keep the rules they started with, contexts created after
   * see every update of the batch. A config that fails leaves its path as it was.
   */
  updateConfigs(updates: readonly WafConfigUpdate[]): WafUpdateOutcome[];
  /** Frees the current handle once its contexts are disposed. Later contexts are born disposed. */
  dispose(): void;
}

/**
 * Loads libddwaf and the ruleset. Throws a {@link WafLoadError} when the binding, the file or the
 * rules cannot be loaded, or when zero rules load: the process should not serve unprotected.
 */
export function createWafEngine(options: WafEngineOptions): WafEngine {
  const { log } = options;
  const binding = loadNativeBinding();
  const nativeOptions: NativeOptions = {
    obfuscatorKeyRegex: options.obfuscatorKeyRegex ?? DEFAULT_OBFUSCATOR_KEY_REGEX,
    obfuscatorValueRegex: options.obfuscatorValueRegex ?? DEFAULT_OBFUSCATOR_VALUE_REGEX,
  };
  const rulesPath = options.rulesPath ?? recommendedRulesPath();
  const rules = readRulesFile(rulesPath);
  const handle = load(binding, rules, nativeOptions, log);
  const engine = new Engine(binding, nativeOptions, handle, rules, log);
  log.info("WAF loaded", {
    wafVersion: engine.wafVersion,
    rulesVersion: engine.rulesVersion,
    rulesPath,
    loadedRules: engine.loadedRules,
    failedRules: engine.failedRules.length,
  });
  return engine;
}

class Engine implements WafEngine {
  readonly wafVersion: string;
  #current: HandleRef | undefined;
  readonly #live: LiveCount = { open: 0 };
  #info: RulesInfo;
  #configs: ConfigSet;
  readonly #binding: NativeBinding;
  readonly #options: NativeOptions;
  readonly #log: Logger;

  constructor(
    binding: NativeBinding,
    options: NativeOptions,
    handle: HandleRef,
    rules: object,
    log: Logger,
  ) {
    this.wafVersion = binding.version();
    this.#configs = new ConfigSet(rules, handle.info);
    this.#binding = binding;
    this.#options = options;
    this.#current = handle;
    this.#info = handle.info;
    this.#log = log;
  }

  get rulesVersion(): string | undefined {
    return this.#info.rulesVersion;
  }

  get loadedRules(): number {
    return this.#info.loadedRules;
  }

  get failedRules(): readonly string[] {
    return this.#info.failedRules;
  }

  createContext(): WafContext {
    return createWafContext(this.#current, this.#log, this.#live);
  }

  get openContexts(): number {
    return this.#live.open;
  }

  replaceRules(rules: object): Result<RulesInfo, WafLoadError> {
    const previous = this.#current;
    if (previous === undefined) {
      return err(new WafLoadError("engine-disposed", "WAF engine is disposed"));
    }
    let next: HandleRef;
    try {
      next = load(this.#binding, rules, this.#options, this.#log);
    } catch (error) {
      if (error instanceof WafLoadError) return err(error);
      throw error;
    }
    this.#current = next;
    this.#info = next.info;
    this.#configs = new ConfigSet(rules, next.info);
    // Freed now, or when the last stream still running on it disposes its context.
    previous.retire();
    return ok(next.info);
  }

  updateConfigs(updates: readonly WafConfigUpdate[]): WafUpdateOutcome[] {
    const previous = this.#current;
    if (previous === undefined) {
      return updates.map((u) => ({ path: u.path, ...err("WAF engine is disposed") }));
    }
    const started = performance.now();
    const outcomes = this.#configs.apply(previous.native, updates);
    // A new generation even when nothing loaded: a failed update may have rebuilt the instance.
    const next = previous.successor(this.#configs.info());
    this.#current = next;
    this.#info = next.info;
    previous.retire();
    warmUp(next, this.#log);
    const failed = outcomes.filter((o) => !o.ok).length;
    this.#log.info("WAF configuration updated", {
      updates: updates.length,
      failed,
      // The event loop was busy this long: the pause streams saw (bench: `npm run bench:rc`).
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      rulesVersion: next.info.rulesVersion,
      loadedRules: next.info.loadedRules,
      failedRules: next.info.failedRules.length,
    });
    return outcomes;
  }

  dispose(): void {
    this.#current?.retire();
    this.#current = undefined;
  }
}

/** Builds a handle and runs it once, because the first runs on a fresh handle are slow. */
function load(
  binding: NativeBinding,
  rules: object,
  options: NativeOptions,
  log: Logger,
): HandleRef {
  const handle = buildHandle(binding, rules, options, log);
  warmUp(handle, log);
  return handle;
}

function warmUp(handle: HandleRef, log: Logger): void {
  const context = createWafContext(handle, log);
  context.run({ [ADDRESSES.REQUEST_METHOD]: "GET", [ADDRESSES.REQUEST_URI_RAW]: "/" }, 100_000);
  context.dispose();
}
