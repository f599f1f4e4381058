/**
 * The repository stands alone: no file points at a document outside it (the `../shared` notes the
 * project was started from, a path on someone's machine), every `NAME.md` a file mentions exists in
 * the repository, and every relative Markdown link resolves.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const THIS_FILE = "test/repo/references.test.ts";

/** Tracked and new (not ignored) files, without generated code and lockfiles. */
const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
  cwd: ROOT,
  encoding: "utf8",
})
  .split("\n")
  .filter((path) => path !== "" && existsSync(join(ROOT, path)))
  .filter((path) => !path.startsWith("processor/gen/") && !path.endsWith("package-lock.json"))
  .filter((path) => !/\.(png|jpg|gz|tgz|wasm|node|so)$/.test(path) && path !== THIS_FILE);
const text = new Map(files.map((path) => [path, readFileSync(join(ROOT, path), "utf8")]));
const markdownNames = new Set(files.filter((path) => path.endsWith(".md")).map((p) => basename(p)));

function offenders(pattern: RegExp, keep: (match: RegExpMatchArray) => boolean = () => true) {
  const found: string[] = [];
  for (const [path, content] of text) {
    content.split("\n").forEach((line, index) => {
      for (const match of line.matchAll(pattern))
        if (keep(match)) found.push(`${path}:${index + 1}: ${match[0]}`);
    });
  }
  return found;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
function anchorOf(heading: string): string {
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

describe("references", () => {
  test("anchorOf follows GitHub's heading anchors", () => {
    assert.equal(anchorOf("Ending and errors"), "ending-and-errors");
    assert.equal(anchorOf("Name, type, resource"), "name-type-resource");
    assert.equal(
      anchorOf("libddwaf through `@datadog/native-appsec`"),
      "libddwaf-through-datadognative-appsec",
    );
  });

  test("every docs/NAME.md reference names an existing document, and its #anchor a heading", () => {
    const broken = offenders(/\bdocs\/([a-z0-9-]+\.md)(#[a-z0-9-]+)?/g, (match) => {
      const doc = `docs/${match[1]}`;
      const content = text.get(doc);
      if (content === undefined) return true;
      return match[2] !== undefined && !anchorsOf(content).has(match[2].slice(1));
    });
    assert.deepEqual(broken, []);
  });

  test("nothing points outside the repository", () => {
    assert.deepEqual(offenders(/\.\.\/shared\b|shared\/(reference|seed)\b|\/work\/[\w.-]+/g), []);
  });

  test("every NAME.md mentioned exists in the repository", () => {
    const mentioned = offenders(
      /(?<![\w/:.-])(?:[\w-]+\/)*([\w-]+\.md)\b/g,
      (match) => !markdownNames.has(match[1] as string),
    );
    assert.deepEqual(mentioned, []);
  });

  test("every relative Markdown link resolves", () => {
    const broken: string[] = [];
    for (const [path, content] of text) {
      if (!path.endsWith(".md")) continue;
      for (const match of content.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (match[1] as string).split("#")[0] as string;
        if (target === "" || /^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(ROOT, dirname(path), target))) broken.push(`${path}: ${match[1]}`);
      }
    }
    assert.deepEqual(broken, []);
  });
});
