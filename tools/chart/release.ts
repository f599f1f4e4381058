/**
 * The chart as a release artifact.
 *
 *   node tools/chart/release.ts package   # helm package into dist/chart/ (npm run chart:package)
 *   node tools/chart/release.ts record    # records the current chart version as released
 *   node tools/chart/release.ts verify V  # the release workflow's check before pushing chart V
 *
 * A released chart version must never change: an OCI registry or a Helm repository would serve
 * two different charts under one version. chart/releases.json records, per released version, a
 * hash of what `helm package` puts in the archive; test/chart/release.test.ts fails when the chart
 * differs from the record of its own version (templates or values changed without a version bump),
 * and, where the release tag `chart-v<version>` exists, when the tagged chart differs from its
 * record. It needs no tag, so it runs on a clean clone.
 *
 * The processor's version has one source, package.json: processor/version.ts reads it at run
 * time, the image build gets it as VERSION, and the chart's appVersion must equal it (checked by
 * the test; `package` also passes it to helm as --app-version).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CHART_DIR = join(ROOT, "chart");
export const RECORD_FILE = join(CHART_DIR, "releases.json");

/** Chart files `helm package` leaves out (chart/.helmignore says the same; the test checks it). */
const NOT_PACKAGED = new Set(["tests", "ci", "README.template.md", "releases.json"]);

/** A released chart version: its hash and the processor version it deployed. */
export interface ReleaseRecord {
  readonly version: string;
  readonly appVersion: string;
  readonly sha256: string;
}

/** The packaged files of the chart in `dir`, relative, sorted. */
export function packagedFiles(dir: string = CHART_DIR): string[] {
  const files: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      if (current === dir && NOT_PACKAGED.has(entry.name)) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(relative(dir, path));
    }
  };
  walk(dir);
  return files.sort();
}

/** The content hash of a chart given by its files: path and content of each, in order. */
export function contentHash(
  files: ReadonlyArray<readonly [path: string, content: Buffer]>,
): string {
  const hash = createHash("sha256");
  for (const [path, content] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    hash.update(`${path}\0${createHash("sha256").update(content).digest("hex")}\n`);
  }
  return hash.digest("hex");
}

/** The content hash of the chart in the working tree. */
export function workingTreeHash(dir: string = CHART_DIR): string {
  return contentHash(packagedFiles(dir).map((path) => [path, readFileSync(join(dir, path))]));
}

/** Chart.yaml's version and appVersion. */
export function chartVersions(dir: string = CHART_DIR): { version: string; appVersion: string } {
  const chart = parse(readFileSync(join(dir, "Chart.yaml"), "utf8")) as {
    version: string;
    appVersion: string;
  };
  return { version: String(chart.version), appVersion: String(chart.appVersion) };
}

/** package.json's version: the processor's only version source. */
export function processorVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string })
    .version;
}

export function readRecords(): ReleaseRecord[] {
  return JSON.parse(readFileSync(RECORD_FILE, "utf8")) as ReleaseRecord[];
}

/** Semantic version 2.0.0, as Helm requires of chart versions. */
export const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Compares two release versions (major.minor.patch; a pre-release sorts before its release). */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => {
    const match = SEMVER.exec(v);
    if (!match) throw new Error(`${v} is not a semantic version`);
    return { core: [1, 2, 3].map((i) => Number(match[i])), pre: match[4] };
  };
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) {
    const diff = (x.core[i] as number) - (y.core[i] as number);
    if (diff !== 0) return diff;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre < y.pre ? -1 : 1;
}

/** The files of `chart/` at a git revision, as `[path relative to chart/, content]`. */
export function filesAtRevision(revision: string): Array<[string, Buffer]> {
  const git = (args: string[]) => execFileSync("git", args, { cwd: ROOT, maxBuffer: 1 << 26 });
  const listed = git(["ls-tree", "-r", "--name-only", revision, "chart/"]).toString().split("\n");
  return listed
    .filter((path) => path !== "")
    .map((path) => relative("chart", path))
    .filter((path) => !NOT_PACKAGED.has(path.split("/")[0] as string))
    .map((path) => [path, git(["show", `${revision}:chart/${path}`])]);
}

function record(): void {
  const { version, appVersion } = chartVersions();
  const sha256 = workingTreeHash();
  const records = readRecords();
  const existing = records.find((entry) => entry.version === version);
  if (existing && existing.sha256 !== sha256) {
    throw new Error(
      `chart ${version} is already recorded with other content: bump Chart.yaml's version`,
    );
  }
  if (!existing) {
    records.push({ version, appVersion, sha256 });
    writeFileSync(RECORD_FILE, `${JSON.stringify(records, null, 2)}\n`);
  }
  console.log(`chart ${version} (app ${appVersion}): ${sha256}`);
}

/** Fails unless Chart.yaml is at `expected` and that version is recorded with this content. */
function verify(expected: string | undefined): void {
  const { version } = chartVersions();
  if (version !== expected) throw new Error(`Chart.yaml's version is ${version}, not ${expected}`);
  const released = readRecords().find((entry) => entry.version === version);
  if (!released)
    throw new Error(
      `chart ${version} is not in chart/releases.json: run npm run chart:record-release and commit`,
    );
  if (released.sha256 !== workingTreeHash())
    throw new Error(`chart ${version} differs from its record`);
  console.log(`chart ${version} matches its record ${released.sha256}`);
}

function packageChart(): void {
  const out = join(ROOT, "dist", "chart");
  mkdirSync(out, { recursive: true });
  const helm = join(ROOT, ".tools", "bin", "helm4");
  const output = execFileSync(
    helm,
    ["package", CHART_DIR, "--destination", out, "--app-version", processorVersion()],
    { encoding: "utf8" },
  );
  process.stdout.write(output);
}

if (import.meta.main) {
  const command = process.argv[2];
  if (command === "record") record();
  else if (command === "package") packageChart();
  else if (command === "verify") verify(process.argv[3]);
  else {
    console.error("usage: node tools/chart/release.ts package|record|verify VERSION");
    process.exit(2);
  }
}
