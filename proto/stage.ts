/**
 * Stages the Envoy API protos for `buf generate` in `proto/staged/` (git-ignored).
 *
 * The protos come from the npm package `@grpc/grpc-js-xds` (its `deps/`), because the Buf Schema
 * Registry is out of reach. Its `validate/validate.proto` predates `StringRules.ignore_empty`
 * (field 26), which the Envoy protos use, so the staged copy gets that one field added. The patch is
 * checked: if the upstream file changes shape, staging fails loudly instead of generating wrong code.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const staging = join(here, "staged");
const require = createRequire(import.meta.url);
const deps = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");

rmSync(staging, { recursive: true, force: true });
mkdirSync(staging, { recursive: true });
for (const tree of ["envoy-api", "xds", "protoc-gen-validate"]) {
  cpSync(join(deps, tree), staging, {
    recursive: true,
    filter: (src) => statSync(src).isDirectory() || src.endsWith(".proto"),
  });
}

// Our own protos (grpc.health.v1) go in the same tree so one buf input covers everything.
cpSync(join(here, "grpc"), join(staging, "grpc"), { recursive: true });

const validatePath = join(staging, "validate", "validate.proto");
const anchor = "KnownRegex well_known_regex = 24;";
const validate = readFileSync(validatePath, "utf8");
if (validate.includes("ignore_empty = 26")) {
  console.log("stage: validate.proto already has StringRules.ignore_empty");
} else {
  const at = validate.indexOf(anchor);
  if (at < 0) {
    throw new Error(`stage: cannot patch ${validatePath}: anchor "${anchor}" not found`);
  }
  const closing = validate.indexOf("}", at);
  const patched = `${validate.slice(0, closing + 1)}\n\n    // Added by aap-extproc: used by the Envoy protos, missing from the bundled copy.\n    optional bool ignore_empty = 26;${validate.slice(closing + 1)}`;
  writeFileSync(validatePath, patched);
}
console.log(`stage: Envoy protos staged in ${staging}`);
