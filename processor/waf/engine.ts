/**
 * The WAF engine: the loaded ruleset, shared by every stream, and the factory of per-stream
 * contexts. Built once at startup; its rules can be replaced at runtime (Remote Configuration)
 * without disturbing streams that hold a context of the previous rules.
 */
import type { Logger } from "../log.ts";
import { ADDRESSES } from "./addresses.ts";
import { createWafContext, type WafContext } from "./context.ts";
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

/** Outcome of {@link WafEngine.replaceRules}: on failure the previous rules stay in force. */
export type WafLoadResult = { ok: true; rules: RulesInfo } | { ok: false; error: WafLoadError };

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
   * Loads `rules` (a parsed ruleset) into a new libddwaf handle and makes it current. Contexts of
   * the previous handle keep working; that handle is freed when the last of them is disposed.
   */
  replaceRules(rules: object): WafLoadResult;
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
  let current: HandleRef | undefined = load(binding, readRulesFile(rulesPath), nativeOptions, log);
  let info = current.info;
  const wafVersion = binding.version();
  log.info("WAF loaded", {
    wafVersion,
    rulesVersion: info.rulesVersion,
    rulesPath,
    loadedRules: info.loadedRules,
    failedRules: info.failedRules.length,
  });

  return {
    wafVersion,
    get rulesVersion() {
      return info.rulesVersion;
    },
    get loadedRules() {
      return info.loadedRules;
    },
    get failedRules() {
      return info.failedRules;
    },
    createContext: () => createWafContext(current, log),
    replaceRules(rules) {
      if (current === undefined) {
        return { ok: false, error: new WafLoadError("engine-disposed", "WAF engine is disposed") };
      }
      try {
        const next = load(binding, rules, nativeOptions, log);
        current.retire();
        current = next;
        info = next.info;
        return { ok: true, rules: info };
      } catch (error) {
        if (error instanceof WafLoadError) return { ok: false, error };
        throw error;
      }
    },
    dispose() {
      current?.retire();
      current = undefined;
    },
  };
}

/** Builds a handle and runs it once, because the first runs on a fresh handle are slow. */
function load(
  binding: NativeBinding,
  rules: object,
  options: NativeOptions,
  log: Logger,
): HandleRef {
  const handle = buildHandle(binding, rules, options, log);
  const context = createWafContext(handle, log);
  context.run({ [ADDRESSES.REQUEST_METHOD]: "GET", [ADDRESSES.REQUEST_URI_RAW]: "/" }, 100_000);
  context.dispose();
  return handle;
}
