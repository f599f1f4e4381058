/**
 * Lints processor/Dockerfile with `dockerfile-utils` (the Dockerfile language server's validator),
 * every rule it has set to error, and prints each problem as `file:line:column message`. Part of
 * `npm run lint`.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ValidationSeverity, validate } from "dockerfile-utils";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const FILES = [join(ROOT, "processor", "Dockerfile")];

const STRICT = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

let problems = 0;
for (const file of FILES) {
  for (const diagnostic of validate(readFileSync(file, "utf8"), STRICT)) {
    const { line, character } = diagnostic.range.start;
    console.error(`${relative(ROOT, file)}:${line + 1}:${character + 1} ${diagnostic.message}`);
    problems++;
  }
}
if (problems > 0) process.exit(1);
console.log(`dockerfile-utils: ${FILES.length} Dockerfile, no problem`);
