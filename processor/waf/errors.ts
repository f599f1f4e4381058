/**
 * The WAF layer's startup error. Per-request failures are never thrown: they come back as
 * `errorCode` on a {@link WafRunResult} (see `context.ts`).
 */

/**
 * Why the WAF could not start:
 * - `native-module`: `@datadog/native-appsec` could not be loaded (unsupported platform, missing
 *   libstdc++, ...);
 * - `rules-read`: the ruleset file could not be read (missing, unreadable);
 * - `rules-json`: the ruleset file is not valid JSON, or not a JSON object;
 * - `rules-invalid`: libddwaf rejected the ruleset as a whole;
 * - `no-rules`: libddwaf accepted the ruleset but loaded zero rules, so the WAF would protect
 *   nothing;
 * - `block-templates`: dd-trace's default block pages could not be loaded;
 * - `engine-disposed`: rules were replaced on an engine that was already disposed.
 */
export type WafLoadErrorCode =
  | "native-module"
  | "rules-read"
  | "rules-json"
  | "rules-invalid"
  | "no-rules"
  | "block-templates"
  | "engine-disposed";

/** Thrown by {@link createWafEngine} when the WAF cannot start; the process should exit. */
export class WafLoadError extends Error {
  override readonly name = "WafLoadError";
  /** Machine-readable reason. */
  readonly code: WafLoadErrorCode;

  constructor(code: WafLoadErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Structural guard, so it also works across module copies. */
export function isWafLoadError(value: unknown): value is WafLoadError {
  return (
    value instanceof Error &&
    value.name === "WafLoadError" &&
    typeof (value as { code?: unknown }).code === "string"
  );
}
