/**
 * The "block every detection" ruleset of the try-it gateway: a copy of dd-trace's recommended
 * ruleset (the processor's default) with `on_match: ["block"]` on every rule. With the recommended
 * rules as shipped, most detections only monitor: Datadog turns blocking on per rule from its UI.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Path of the ruleset the processor loads when DD_APPSEC_RULES is unset. */
export const RECOMMENDED_RULES = createRequire(import.meta.url).resolve(
  "dd-trace/packages/dd-trace/src/appsec/recommended.json",
);

interface Ruleset {
  rules: Array<{ id: string; on_match?: string[] }>;
  [field: string]: unknown;
}

/** The recommended ruleset with every rule blocking. */
export function blockAllRuleset(source = RECOMMENDED_RULES): Ruleset {
  const ruleset = JSON.parse(readFileSync(source, "utf8")) as Ruleset;
  for (const rule of ruleset.rules) rule.on_match = ["block"];
  return ruleset;
}

/** Writes {@link blockAllRuleset} to a temporary file and returns its path (for DD_APPSEC_RULES). */
export function writeBlockAllRuleset(): string {
  const path = join(mkdtempSync(join(tmpdir(), "aap-demo-rules-")), "block-all.json");
  writeFileSync(path, JSON.stringify(blockAllRuleset()));
  return path;
}
