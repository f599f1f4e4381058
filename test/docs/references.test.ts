/**
 * Documents cited by the code exist in the repository: every `docs/<name>.md` reference names a
 * file of `docs/`, every `#anchor` one of its headings, and nothing cites the notes that lived
 * outside the repository before `docs/` existed.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const ROOT = join(import.meta.dirname, "..", "..");

/** Files git tracks, minus generated code. */
function trackedTextFiles(): string[] {
  const listed = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], { cwd: ROOT });
  return listed
    .toString()
    .split("\n")
    .filter((path) => /\.(ts|md|tpl|yaml|json|sh)$/.test(path) || path.startsWith(".ci/"))
    .filter((path) => !path.startsWith("processor/gen/") && existsSync(join(ROOT, path)));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const headings = markdown.match(/^#{1,6} .+$/gm) ?? [];
  return new Set(headings.map((line) => anchorOf(line.replace(/^#+ /, ""))));
}

const REFERENCE = /\bdocs\/([a-z0-9-]+\.md)(#[a-z0-9-]+)?/g;
const OUTSIDE =
  /go-reference-processor\.md|envoy-ext-proc-contract\.md|dd-trace-node\.md|\.\.\/shared\//;

test("anchorOf follows GitHub's heading anchors", () => {
  assert.equal(anchorOf("Ending and errors"), "ending-and-errors");
  assert.equal(anchorOf("Name, type, resource"), "name-type-resource");
  assert.equal(
    anchorOf("libddwaf through `@datadog/native-appsec`"),
    "libddwaf-through-datadognative-appsec",
  );
});

test("every docs/ reference names an existing document and heading", () => {
  const broken: string[] = [];
  const anchors = new Map<string, Set<string>>();
  for (const path of trackedTextFiles()) {
    const text = readFileSync(join(ROOT, path), "utf8");
    for (const [, name, anchor] of text.matchAll(REFERENCE)) {
      const doc = join(ROOT, "docs", name as string);
      if (!existsSync(doc)) {
        broken.push(`${path}: docs/${name} does not exist`);
        continue;
      }
      if (anchor === undefined) continue;
      let known = anchors.get(doc);
      if (known === undefined) {
        known = anchorsOf(readFileSync(doc, "utf8"));
        anchors.set(doc, known);
      }
      if (!known.has(anchor.slice(1)))
        broken.push(`${path}: docs/${name}${anchor} has no such heading`);
    }
  }
  assert.deepEqual(broken, []);
});

test("nothing cites a document that is not in the repository", () => {
  const citing = trackedTextFiles().filter((path) => {
    if (path === "test/docs/references.test.ts") return false;
    return OUTSIDE.test(readFileSync(join(ROOT, path), "utf8"));
  });
  assert.deepEqual(citing, []);
});
