/**
 * What a release needs besides code: the licence package.json, the chart and the image declare,
 * a changelog entry for the current processor and chart versions, and contributor instructions.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const pkg = JSON.parse(read("package.json")) as { version: string; license: string };
const chart = parse(read("chart/Chart.yaml")) as {
  version: string;
  annotations: Record<string, string>;
};

describe("repository hygiene", () => {
  test("LICENSE is the full Apache License 2.0, as package.json, the chart and the image say", () => {
    const license = read("LICENSE");
    assert.match(license, /Apache License\s+Version 2\.0, January 2004/);
    assert.match(license, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
    assert.match(license, /END OF TERMS AND CONDITIONS/);
    assert.ok(license.length > 10_000, "the full text, not a notice");
    assert.equal(pkg.license, "Apache-2.0");
    assert.equal(chart.annotations["artifacthub.io/license"], "Apache-2.0");
    assert.match(
      read("processor/Dockerfile"),
      /org\.opencontainers\.image\.licenses="Apache-2\.0"/,
    );
  });

  test("CHANGELOG.md has an entry for the current processor and chart versions", () => {
    const changelog = read("CHANGELOG.md");
    assert.match(
      changelog,
      new RegExp(`^## Processor ${pkg.version.replaceAll(".", "\\.")}$`, "m"),
    );
    assert.match(changelog, new RegExp(`^## Chart ${chart.version.replaceAll(".", "\\.")}$`, "m"));
  });

  test("CONTRIBUTING.md says how to run, test and regenerate, with commands that exist", () => {
    const contributing = read("CONTRIBUTING.md");
    const scripts = Object.keys(
      (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts,
    );
    for (const heading of ["## Set up and run", "## Test", "## Regenerate"])
      assert.ok(contributing.includes(heading), heading);
    const named = [...contributing.matchAll(/npm run ([\w:-]+)/g)].map((match) => match[1]);
    const tableNames = [...contributing.matchAll(/`((?:test|chart):[\w-]+)`/g)].map((m) => m[1]);
    assert.ok(named.length > 5);
    assert.deepEqual(
      [...named, ...tableNames].filter((name) => !scripts.includes(name as string)),
      [],
    );
  });
});
