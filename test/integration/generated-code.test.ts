/**
 * Generated code is committed; this test regenerates it into a temporary folder and fails on any
 * difference, printing the files that differ and the command to run (`npm run generate`).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

test("processor/gen matches what buf generates from the pinned Envoy protos", (t) => {
  const out = mkdtempSync(join(tmpdir(), "aap-gen-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  execFileSync(process.execPath, [join(root, "proto", "stage.ts")], { cwd: root, stdio: "pipe" });
  execFileSync(join(root, "node_modules", ".bin", "buf"), ["generate", "--output", out], {
    cwd: root,
    stdio: "pipe",
  });
  const committed = join(root, "processor", "gen");
  const fresh = join(out, "processor", "gen");
  const committedFiles = listFiles(committed);
  const freshFiles = listFiles(fresh);
  assert.ok(freshFiles.length > 40, `buf generated only ${freshFiles.length} files`);
  const differing = freshFiles.filter(
    (file) =>
      !committedFiles.includes(file) ||
      readFileSync(join(fresh, file), "utf8") !== readFileSync(join(committed, file), "utf8"),
  );
  const stale = committedFiles.filter((file) => !freshFiles.includes(file));
  assert.deepEqual(
    { differing, stale },
    { differing: [], stale: [] },
    "generated code is out of date: run `npm run generate` and commit processor/gen",
  );
});
