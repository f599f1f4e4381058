/**
 * The processor's own version, from the project's package.json (found by walking up from this
 * file, so it works both from the TypeScript sources and from the built `dist/`).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const manifest = JSON.parse(readFileSync(candidate, "utf8")) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === "aap-extproc" && manifest.version) return manifest.version;
    }
    if (dirname(dir) === dir) return "0.0.0-unknown";
  }
}

/** The processor version, e.g. `0.1.0`. */
export const PROCESSOR_VERSION: string = findVersion();
