export { formatConfigError, loadConfig } from "./config.ts";
export type { Config } from "./settings.ts";
export { SETTINGS } from "./settings.ts";
