/**
 * Configurations for tests, parsed by the processor's own settings table so that every default
 * and every check applies: plaintext gRPC unless the test asks for TLS, and a clear failure when
 * a test passes an invalid value.
 */
import { type Config, loadConfig } from "../../processor/config/index.ts";

/** The configuration `env` gives on top of the processor's defaults (TLS off). */
export function testConfig(env: Record<string, string> = {}): Config {
  const loaded = loadConfig({ DD_SERVICE_EXTENSION_TLS: "false", ...env });
  if (!loaded.ok) throw new Error(`invalid test configuration: ${JSON.stringify(loaded.error)}`);
  return loaded.value.config;
}
