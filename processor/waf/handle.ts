/**
 * A loaded ruleset: one libddwaf handle, a summary of what loaded, and a reference count of the
 * contexts created from it, so that a handle replaced at runtime is freed only after its last
 * context is disposed.
 */
import type { Logger } from "../log.ts";
import { WafLoadError } from "./errors.ts";
import type {
  NativeBinding,
  NativeContext,
  NativeDiagnostics,
  NativeDiagnosticsSection,
  NativeHandle,
  NativeOptions,
} from "./native.ts";

/**
 * The config path dd-trace uses for its default ruleset; reusing it keeps later Remote
 * Configuration updates (`ASM_DD`) addressing the same slot (dd-trace `waf_manager.js`).
 */
export const DEFAULT_CONFIG_PATH = "datadog/00/ASM_DD/default/config";

/** Diagnostics sections that hold detection rules (as opposed to processors, actions, ...). */
export const RULE_SECTIONS = ["rules", "custom_rules", "rules_compat"];

/** What a ruleset load produced. */
export interface RulesInfo {
  /** `metadata.rules_version` of the ruleset, when it has one. */
  readonly rulesVersion: string | undefined;
  /** Rules libddwaf loaded (`rules`, `custom_rules` and `rules_compat` sections). */
  readonly loadedRules: number;
  /** Ids of the rules libddwaf rejected. Skipped rules (version-gated) are not failures. */
  readonly failedRules: readonly string[];
  /**
   * Addresses some rule's condition reads (rules, custom rules). Processors are not counted: the
   * pipeline uses this to skip what only a conditional processor (API Security schemas) would
   * read, such as the response body.
   */
  readonly ruleAddresses: ReadonlySet<string>;
}

/** A libddwaf handle with its load summary and a count of live contexts. */
export interface HandleRef {
  readonly info: RulesInfo;
  /** Creates a native context and counts it; throws if libddwaf does. */
  acquire(): { native: NativeContext; knownAddresses: ReadonlySet<string> };
  /** Uncounts a context; frees the handle if it is retired and this was the last one. */
  release(): void;
  /** No more contexts will be created; frees the handle now or when the last context goes. */
  retire(): void;
  /** The libddwaf handle, for in-place config updates (`config-set.ts`). */
  readonly native: NativeHandle;
  /**
   * The next generation of this handle after an in-place update: same libddwaf handle, new
   * summary. The handle is freed once every generation is retired and every context released.
   */
  successor(info: RulesInfo): HandleRef;
}

/**
 * Builds a handle from a parsed ruleset. Logs every rule or item that failed to load, with its id
 * and libddwaf's error. Throws a {@link WafLoadError} (`rules-invalid` or `no-rules`).
 */
export function buildHandle(
  binding: NativeBinding,
  rules: object,
  options: NativeOptions,
  log: Logger,
): HandleRef {
  if (declaredRules(rules) === 0) {
    throw new WafLoadError("no-rules", "the WAF ruleset has no rules");
  }
  let native: NativeHandle;
  try {
    native = binding.create(rules, DEFAULT_CONFIG_PATH, options);
  } catch (cause) {
    throw diagnoseRejected(binding, rules, options, log, cause);
  }
  const info = summarise(native.diagnostics, addressesReadByRules(rules));
  logDiagnostics(native.diagnostics, log);
  if (info.loadedRules === 0) {
    native.dispose();
    throw new WafLoadError("no-rules", "the WAF ruleset loaded zero rules");
  }
  return countReferences(native, info);
}

function declaredRules(rules: object): number {
  const record = rules as Record<string, unknown>;
  return RULE_SECTIONS.reduce((n, key) => {
    const section = record[key];
    return n + (Array.isArray(section) ? section.length : 0);
  }, 0);
}

/**
 * A never-matching rule. libddwaf throws a bare `Invalid rules` when no rule loads, without saying
 * which rules failed or why; loading the ruleset again with this rule added gets the diagnostics.
 */
const SENTINEL_RULE = {
  id: "aap-extproc-diagnostics-sentinel",
  name: "never matches",
  tags: { type: "aap_extproc_sentinel", category: "internal" },
  conditions: [
    {
      operator: "exists",
      parameters: { inputs: [{ address: "aap-extproc.never-fed" }] },
    },
  ],
};

function diagnoseRejected(
  binding: NativeBinding,
  rules: object,
  options: NativeOptions,
  log: Logger,
  cause: unknown,
): WafLoadError {
  const record = rules as Record<string, unknown>;
  const declared = Array.isArray(record.rules) ? record.rules : [];
  try {
    const probe = binding.create(
      { ...rules, rules: [...declared, SENTINEL_RULE] },
      "probe",
      options,
    );
    logDiagnostics(probe.diagnostics, log);
    const { failedRules } = summarise(probe.diagnostics, new Set());
    probe.dispose();
    return new WafLoadError(
      "no-rules",
      `no rule of the WAF ruleset loaded (failed: ${failedRules.join(", ") || "none"})`,
      { cause },
    );
  } catch {
    return new WafLoadError("rules-invalid", `libddwaf rejected the ruleset: ${String(cause)}`, {
      cause,
    });
  }
}

/** Live contexts and unretired generations of one libddwaf handle. */
interface Owner {
  contexts: number;
  generations: number;
}

function countReferences(
  native: NativeHandle,
  info: RulesInfo,
  owner: Owner = { contexts: 0, generations: 0 },
): HandleRef {
  owner.generations += 1;
  let retired = false;
  const freeIfUnused = (): void => {
    if (owner.generations === 0 && owner.contexts === 0 && !native.disposed) native.dispose();
  };
  return {
    info,
    native,
    acquire() {
      const context = native.createContext();
      owner.contexts += 1;
      return { native: context, knownAddresses: native.knownAddresses };
    },
    release() {
      owner.contexts -= 1;
      freeIfUnused();
    },
    retire() {
      if (retired) return;
      retired = true;
      owner.generations -= 1;
      freeIfUnused();
    },
    successor(next) {
      return countReferences(native, next, owner);
    },
  };
}

export function sections(
  diagnostics: NativeDiagnostics,
): Array<[string, NativeDiagnosticsSection]> {
  const out: Array<[string, NativeDiagnosticsSection]> = [];
  for (const [name, section] of Object.entries(diagnostics)) {
    if (typeof section === "object" && section !== null) out.push([name, section]);
  }
  return out;
}

export function summarise(
  diagnostics: NativeDiagnostics,
  ruleAddresses: ReadonlySet<string>,
): RulesInfo {
  let loadedRules = 0;
  const failedRules: string[] = [];
  for (const [name, section] of sections(diagnostics)) {
    if (!RULE_SECTIONS.includes(name)) continue;
    loadedRules += section.loaded?.length ?? 0;
    failedRules.push(...(section.failed ?? []));
  }
  return Object.freeze({
    rulesVersion: diagnostics.ruleset_version,
    loadedRules,
    failedRules: Object.freeze(failedRules),
    ruleAddresses,
  });
}

/** Every `address` in the conditions of the ruleset's rule sections; tolerant of odd shapes. */
export function addressesReadByRules(rules: object): ReadonlySet<string> {
  const addresses = new Set<string>();
  const record = rules as Record<string, unknown>;
  for (const key of RULE_SECTIONS) {
    const section = record[key];
    if (!Array.isArray(section)) continue;
    for (const rule of section) {
      for (const condition of asArray((rule as { conditions?: unknown } | null)?.conditions)) {
        const parameters = (condition as { parameters?: { inputs?: unknown } } | null)?.parameters;
        for (const input of asArray(parameters?.inputs)) {
          const address = (input as { address?: unknown } | null)?.address;
          if (typeof address === "string") addresses.add(address);
        }
      }
    }
  }
  return addresses;
}

function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** One log line per distinct libddwaf error or warning, naming the ids it applies to. */
export function logDiagnostics(diagnostics: NativeDiagnostics, log: Logger): void {
  for (const [section, diag] of sections(diagnostics)) {
    if (diag.error !== undefined) {
      log.error("WAF ruleset section failed to load", { section, error: diag.error });
    }
    for (const [error, ids] of Object.entries(diag.errors ?? {})) {
      log.error("WAF ruleset items failed to load", { section, error, ids });
    }
    for (const [warning, ids] of Object.entries(diag.warnings ?? {})) {
      log.warn("WAF ruleset items loaded with warnings", { section, warning, ids });
    }
  }
}
