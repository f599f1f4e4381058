export { formatConfigError, loadConfig } from "./config.ts";
export type { Config, FieldsWithoutRow } from "./settings.ts";
export { SETTINGS } from "./settings.ts";
