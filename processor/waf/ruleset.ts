/**
 * Finding and reading ruleset files. Nothing outside `waf/` reads dd-trace's files from disk.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { WafLoadError } from "./errors.ts";

/** The recommended ruleset's module id inside the dd-trace package. */
const RECOMMENDED_RULES_ID = "dd-trace/packages/dd-trace/src/appsec/recommended.json";

/**
 * Absolute path of the recommended ruleset shipped in the installed dd-trace package. Resolved
 * through Node's module resolution so it follows wherever npm placed dd-trace.
 */
export function recommendedRulesPath(): string {
  return createRequire(import.meta.url).resolve(RECOMMENDED_RULES_ID);
}

/**
 * Reads and parses a ruleset file. Throws a {@link WafLoadError}: `rules-read` when the file cannot
 * be read, `rules-json` when it is not a JSON object.
 */
export function readRulesFile(path: string): object {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new WafLoadError("rules-read", `cannot read WAF ruleset file ${path}: ${String(cause)}`, {
      cause,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new WafLoadError("rules-json", `WAF ruleset file ${path} is not valid JSON`, { cause });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new WafLoadError("rules-json", `WAF ruleset file ${path} is not a JSON object`);
  }
  return parsed;
}
