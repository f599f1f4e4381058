/**
 * "Never fail open silently": checks on combinations of settings that would switch inspection off
 * in effect. A combination that can only be a mistake stops startup (exit 2, as an invalid value
 * does); a documented way of inspecting less is accepted but reported at every start as a warning
 * (and on the health check and in metrics). docs/fail-safe-settings.md lists every decision.
 */
import type { ConfigError } from "./config.ts";
import type { Config } from "./settings.ts";

/** Below this WAF budget most runs of the recommended rules time out (a run takes 20-200 µs). */
export const LOW_WAF_TIMEOUT_US = 1000;

/** Errors (startup stops) and warnings (logged) for `config`, read from `env`. */
export function checkSafety(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
): { errors: ConfigError[]; warnings: string[] } {
  const errors: ConfigError[] = [];
  const warnings: string[] = [];
  if (config.bodyLimitBytes > 0 && config.bodyMemoryLimitBytes < config.bodyLimitBytes) {
    errors.push({
      name: "DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT",
      value: env.DD_SERVICE_EXTENSION_BODY_MEMORY_LIMIT ?? String(config.bodyMemoryLimitBytes),
      expected: `at least DD_APPSEC_BODY_PARSING_SIZE_LIMIT (${config.bodyLimitBytes}): a smaller budget cuts every large body short`,
    });
  }
  if (!config.appsecEnabled) {
    warnings.push(
      "DD_APPSEC_ENABLED=false: App and API Protection is DISABLED, requests are not inspected",
    );
  }
  if (config.appsecEnabled && config.bodyLimitBytes === 0) {
    warnings.push(
      "DD_APPSEC_BODY_PARSING_SIZE_LIMIT=0: body inspection is OFF, attacks in request and response bodies are not seen",
    );
  }
  if (config.appsecEnabled && config.wafTimeoutUs < LOW_WAF_TIMEOUT_US) {
    warnings.push(
      `DD_APPSEC_WAF_TIMEOUT is ${config.wafTimeoutUs} µs: below 1ms many WAF runs time out and their requests pass uninspected (see the waf timeouts metric)`,
    );
  }
  if (config.appsecEnabled && config.traceRateLimitPerS === 0) {
    warnings.push(
      "DD_APPSEC_TRACE_RATE_LIMIT=0: no trace with a security event is kept, attacks are blocked but not reported to Datadog",
    );
  }
  if (config.appsecEnabled && config.observabilityMode) {
    warnings.push(
      "DD_SERVICE_EXTENSION_OBSERVABILITY_MODE=true: attacks are reported but never blocked",
    );
  }
  return { errors, warnings };
}
