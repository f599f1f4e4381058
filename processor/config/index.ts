export type { ConfigError, ConfigResult } from "./config.ts";
export { formatConfigError, loadConfig } from "./config.ts";
export type { Config, Setting } from "./settings.ts";
export { SETTINGS } from "./settings.ts";
