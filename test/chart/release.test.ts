/**
 * The chart as a release artifact: a semantic version, an appVersion that is the processor's
 * version, and no change to a released version. chart/releases.json records the content hash of
 * each released chart version (tools/chart/release.ts); a chart whose content differs from the
 * record of its own version was changed without a version bump. Release tags (`chart-v<version>`)
 * are checked against the record where they exist; the record alone suffices on a clean clone.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import {
  CHART_DIR,
  chartVersions,
  compareVersions,
  contentHash,
  filesAtRevision,
  packagedFiles,
  processorVersion,
  ROOT,
  readRecords,
  SEMVER,
  workingTreeHash,
} from "../../tools/chart/release.ts";
import { TOOLS_BIN } from "./support/helm.ts";

const { version, appVersion } = chartVersions();
const records = readRecords();

describe("chart versions", () => {
  test("the chart version is a semantic version", () => {
    assert.match(version, SEMVER);
  });

  test("appVersion, the image annotation and the processor share package.json's version", () => {
    assert.equal(appVersion, processorVersion());
    const chart = parse(readFileSync(join(CHART_DIR, "Chart.yaml"), "utf8")) as {
      annotations: Record<string, string>;
    };
    const images = parse(chart.annotations["artifacthub.io/images"] ?? "[]") as Array<{
      image: string;
    }>;
    assert.deepEqual(
      images.map((entry) => entry.image.split(":").pop()),
      [appVersion],
    );
  });

  test("the record lists each released version once, in ascending order, with a hash", () => {
    const versions = records.map((entry) => entry.version);
    for (const entry of records) {
      assert.match(entry.version, SEMVER);
      assert.match(entry.appVersion, SEMVER);
      assert.match(entry.sha256, /^[0-9a-f]{64}$/);
    }
    assert.deepEqual([...versions].sort(compareVersions), versions);
    assert.equal(new Set(versions).size, versions.length);
  });

  test("a released version's content is unchanged; otherwise the version is new", () => {
    const released = records.find((entry) => entry.version === version);
    const current = workingTreeHash();
    if (released) {
      assert.equal(
        current,
        released.sha256,
        `chart ${version} was released with other content: its templates, values or docs changed without a version bump. Bump "version" in chart/Chart.yaml (semver: patch for fixes, minor for new values or changed defaults) and describe the change in CHANGELOG.md and Chart.yaml's artifacthub.io/changes.`,
      );
    } else {
      for (const entry of records) {
        assert.ok(
          compareVersions(version, entry.version) > 0,
          `chart ${version} is not recorded as released, so it must be newer than the released ${entry.version}`,
        );
      }
    }
  });

  test("a content change is caught: another values.yaml gives another hash", () => {
    const files = packagedFiles().map((path): [string, Buffer] => [
      path,
      readFileSync(join(CHART_DIR, path)),
    ]);
    const edited = files.map(([path, content]): [string, Buffer] =>
      path === "values.yaml"
        ? [path, Buffer.concat([content, Buffer.from("\n")])]
        : [path, content],
    );
    assert.equal(contentHash(files), workingTreeHash());
    assert.notEqual(contentHash(edited), contentHash(files));
  });

  test("each release tag present in the clone holds the recorded chart", () => {
    const tags = execFileSync("git", ["tag", "--list", "chart-v*"], { cwd: ROOT, encoding: "utf8" })
      .split("\n")
      .filter((tag) => tag !== "");
    for (const tag of tags) {
      const tagged = records.find((entry) => `chart-v${entry.version}` === tag);
      assert.ok(tagged, `tag ${tag} has no entry in chart/releases.json`);
      assert.equal(
        contentHash(filesAtRevision(tag)),
        tagged.sha256,
        `${tag} differs from its record`,
      );
    }
  });
});

describe("helm package", () => {
  test("packages exactly the files the release hash covers", () => {
    const out = mkdtempSync(join(tmpdir(), "aap-chart-package-"));
    try {
      execFileSync(join(TOOLS_BIN, "helm4"), ["package", CHART_DIR, "--destination", out], {
        encoding: "utf8",
      });
      const archive = join(out, `aap-extproc-${version}.tgz`);
      const listing = spawnSync("tar", ["-tzf", archive], { encoding: "utf8" });
      assert.equal(listing.status, 0, listing.stderr);
      const packaged = listing.stdout
        .split("\n")
        .filter((line) => line !== "" && !line.endsWith("/"))
        .map((line) => line.replace(/^aap-extproc\//, ""))
        .sort();
      assert.deepEqual(packaged, packagedFiles());
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
