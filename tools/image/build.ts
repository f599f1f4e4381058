/**
 * Builds the processor image from processor/Dockerfile with the repository as context, labelled
 * with package.json's version and the git revision (`npm run image:build -- [--tag NAME] [extra
 * build flags]`). Uses `docker` when it is on PATH, else `podman`. The release workflow builds the
 * same way with docker buildx (.github/workflows/release.yml).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const version = (
  JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }
).version;
const git = spawnSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" });
const revision = git.status === 0 ? git.stdout.trim() : "unknown";

const args = process.argv.slice(2);
const tagAt = args.indexOf("--tag");
const tag = tagAt >= 0 ? args.splice(tagAt, 2)[1] : `aap-extproc/processor:${version}`;
const engine = spawnSync("docker", ["--version"]).status === 0 ? "docker" : "podman";
const build = spawnSync(
  engine,
  [
    "build",
    "--file",
    join(ROOT, "processor", "Dockerfile"),
    "--build-arg",
    `VERSION=${version}`,
    "--build-arg",
    `REVISION=${revision}`,
    "--tag",
    tag ?? "",
    ...args,
    ROOT,
  ],
  { stdio: "inherit" },
);
if (build.error) {
  console.error(`image:build: neither docker nor podman could run (${build.error.message})`);
  process.exit(1);
}
process.exit(build.status ?? 1);
