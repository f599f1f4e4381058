/** Repository paths the gateway needs. */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
