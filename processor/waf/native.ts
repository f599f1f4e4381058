/**
 * Typed view of `@datadog/native-appsec` 11.x as it behaves at runtime. Its `index.d.ts` is wrong
 * in places (docs/libddwaf-and-dd-trace.md: `actions` is a map, not an array; the context type
 * is not exported; events and attributes are untyped), so this file declares only what we rely
 * on and loads the binding through `createRequire`, which is the only import of the package in
 * the project.
 */
import { createRequire } from "node:module";
import { WafLoadError } from "./errors.ts";

/** One section of libddwaf's diagnostics (`rules`, `custom_rules`, `actions`, ...). */
export interface NativeDiagnosticsSection {
  loaded?: string[];
  failed?: string[];
  skipped?: string[];
  /** Error message → ids of the items that failed with it. */
  errors?: Record<string, string[]>;
  warnings?: Record<string, string[]>;
  /** Set instead of the lists when the whole section is malformed. */
  error?: string;
}

/** libddwaf diagnostics: one entry per ruleset section, plus the ruleset version. */
export type NativeDiagnostics = Record<string, NativeDiagnosticsSection | string | undefined> & {
  ruleset_version?: string;
};

/** What `DDWAFContext.run` returns (docs/libddwaf-and-dd-trace.md). */
export interface NativeResult {
  timeout: boolean;
  /** Time spent inside libddwaf, in nanoseconds. */
  duration?: number;
  events?: unknown[];
  /** Action type → parameters, e.g. `{ block_request: { status_code: 403, ... } }`. */
  actions?: Record<string, unknown>;
  attributes?: Record<string, unknown>;
  keep?: boolean;
  /** Negative libddwaf error code. */
  errorCode?: number;
}

/** Data for one run: persistent data stays in the context, ephemeral data is used once. */
export interface NativePayload {
  persistent?: Record<string, unknown>;
  ephemeral?: Record<string, unknown>;
}

/** A per-request libddwaf context. */
export interface NativeContext {
  readonly disposed: boolean;
  /** `timeoutUs` is mandatory (the binding throws without it). */
  run(payload: NativePayload, timeoutUs: number): NativeResult;
  dispose(): void;
}

/**
 * A loaded libddwaf handle (`DDWAF` instance). It wraps a libddwaf builder: `createOrUpdateConfig`
 * and `removeConfig` change one config path and swap in a newly built instance, after which
 * `diagnostics` describes that one update. Contexts created before keep the ruleset they started
 * with (libddwaf shares it with them and frees it with the last one).
 */
export interface NativeHandle {
  readonly disposed: boolean;
  readonly diagnostics: NativeDiagnostics;
  readonly knownAddresses: Set<string>;
  createContext(): NativeContext;
  /** False when libddwaf rejected the config (nothing changed); throws on a non-object. */
  createOrUpdateConfig(config: object, path: string): boolean;
  /** False when the path was not loaded. */
  removeConfig(path: string): boolean;
  dispose(): void;
}

/** Obfuscator regexes passed to libddwaf (RE2 syntax, `(?i)` allowed). */
export interface NativeOptions {
  obfuscatorKeyRegex: string;
  obfuscatorValueRegex: string;
}

/** The binding's `DDWAF` class. Its constructor throws `Invalid rules` on a bad ruleset. */
export interface NativeBinding {
  version(): string;
  create(rules: object, configPath: string, options: NativeOptions): NativeHandle;
}

interface DdwafClass {
  new (rules: object, configPath: string, options: NativeOptions): NativeHandle;
  version(): string;
}

/** Loads the binding; throws a `native-module` {@link WafLoadError} if the platform lacks it. */
export function loadNativeBinding(): NativeBinding {
  let DDWAF: DdwafClass;
  try {
    const require = createRequire(import.meta.url);
    ({ DDWAF } = require("@datadog/native-appsec") as { DDWAF: DdwafClass });
  } catch (cause) {
    throw new WafLoadError(
      "native-module",
      `cannot load @datadog/native-appsec (libddwaf): ${String(cause)}`,
      { cause },
    );
  }
  return {
    version: () => DDWAF.version(),
    create: (rules, configPath, options) => new DDWAF(rules, configPath, options),
  };
}
