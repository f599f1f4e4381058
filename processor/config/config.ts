/**
 * Reads the processor's configuration from the environment, once, at startup. This module is the
 * only reader of `process.env` in the processor (main passes it in).
 */
import { err, ok, type Result } from "../result.ts";
import { checkSafety } from "./safety.ts";
import { type Config, SETTINGS } from "./settings.ts";

/** One invalid variable: its name, the value given and what was expected. */
export interface ConfigError {
  readonly name: string;
  readonly value: string;
  readonly expected: string;
}

/**
 * What {@link loadConfig} read. Warnings (unknown variables, settings that inspect less:
 * `safety.ts`) never stop startup.
 */
export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: string[];
}

/** Prefix of our own variables: an unknown one is almost always a typo. */
const OWN_PREFIX = "DD_SERVICE_EXTENSION_";

/**
 * Parses every setting from `env`. Unset and empty variables take their default (as the Go image
 * does); any other invalid value is an error, and all errors are reported at once.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
): Result<LoadedConfig, ConfigError[]> {
  const values: Record<string, unknown> = {};
  const errors: ConfigError[] = [];
  for (const setting of SETTINGS) {
    const raw = env[setting.name];
    if (raw === undefined || raw === "") {
      values[setting.field] = setting.default;
      continue;
    }
    const parsed = setting.parse(raw);
    if (parsed.ok) values[setting.field] = parsed.value;
    else errors.push({ name: setting.name, value: raw, expected: parsed.error });
  }
  if (errors.length > 0) return err(errors);
  const config = Object.freeze(values as unknown as Config);
  const safety = checkSafety(config, env);
  if (safety.errors.length > 0) return err(safety.errors);
  const known = new Set(SETTINGS.map((setting) => setting.name));
  const warnings = Object.keys(env)
    .filter((name) => name.startsWith(OWN_PREFIX) && !known.has(name))
    .map(
      (name) =>
        `unknown variable ${name} is ignored (known: ${[...known].filter((k) => k.startsWith(OWN_PREFIX)).join(", ")})`,
    );
  return ok({ config, warnings: [...safety.warnings, ...warnings] });
}

/** The one-line message for an invalid variable, as printed at startup. */
export function formatConfigError(error: ConfigError): string {
  return `invalid ${error.name}=${JSON.stringify(error.value)}: expected ${error.expected}`;
}
