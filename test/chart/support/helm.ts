/**
 * Runs the pinned Helm binaries that `.ci/setup.d/20-go-tools.sh` builds into `.tools/bin`, and
 * parses what they render. Every chart test goes through here, so both Helm majors are exercised
 * the same way.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

const run = promisify(execFile);

/** Repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** The chart under test. */
export const CHART_DIR = join(ROOT, "chart");
/** Where the Go tools are built. */
export const TOOLS_BIN = join(ROOT, ".tools", "bin");

/** The Helm majors the chart supports, by binary name. */
export const HELMS = ["helm3", "helm4"] as const;
export type HelmName = (typeof HELMS)[number];

/** Release name and namespace every render uses (cert-manager-values.yaml relies on them). */
export const RELEASE = "aap";
export const NAMESPACE = "aap";

/** API groups a cluster with Istio and cert-manager serves (what a real install would see). */
export const API_VERSIONS = ["networking.istio.io/v1alpha3", "cert-manager.io/v1"] as const;

/** A rendered Kubernetes object: only the fields every object has are typed. */
export interface RenderedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly [field: string]: unknown;
}

/** Absolute path of a tool in `.tools/bin`; throws with the setup command when it is missing. */
export function toolPath(name: string): string {
  const path = join(TOOLS_BIN, name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run .ci/setup (or bash .ci/setup.d/20-go-tools.sh)`);
  }
  return path;
}

/** The scenario files in chart/ci, as paths relative to the chart. */
export function ciValuesFiles(): string[] {
  return readdirSync(join(CHART_DIR, "ci"))
    .filter((name) => name.endsWith("-values.yaml"))
    .sort()
    .map((name) => join("ci", name));
}

/**
 * Runs a tool (with `input` on its stdin, if given) and returns its stdout; a non-zero exit
 * rejects with stdout and stderr attached.
 */
export async function runTool(
  name: string,
  args: readonly string[],
  input?: string,
): Promise<string> {
  try {
    const running = run(toolPath(name), [...args], {
      cwd: CHART_DIR,
      maxBuffer: 64 * 1024 * 1024,
    });
    running.child.stdin?.end(input ?? "");
    const { stdout } = await running;
    return stdout;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`${name} ${args.join(" ")} failed:\n${stdout}\n${stderr}`, { cause: error });
  }
}

/** `helm lint --strict` with an optional values file (relative to the chart). */
export function lint(helm: HelmName, valuesFile?: string): Promise<string> {
  const args = ["lint", "--strict", ".", "--namespace", NAMESPACE];
  if (valuesFile !== undefined) args.push("--values", valuesFile);
  return runTool(helm, args);
}

/**
 * `helm template` of the chart, parsed into objects (empty documents dropped). `set` holds
 * `--set` overrides applied after the values file.
 */
export async function render(
  helm: HelmName,
  valuesFile?: string,
  apiVersions: readonly string[] = API_VERSIONS,
  set: Readonly<Record<string, string>> = {},
): Promise<RenderedObject[]> {
  const args = ["template", RELEASE, ".", "--namespace", NAMESPACE];
  for (const api of apiVersions) args.push("--api-versions", api);
  if (valuesFile !== undefined) args.push("--values", valuesFile);
  for (const [key, value] of Object.entries(set)) args.push("--set", `${key}=${value}`);
  const stdout = await runTool(helm, args);
  return parseAllDocuments(stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${helm} rendered invalid YAML: ${doc.errors[0]}`);
      return doc.toJS() as RenderedObject | null;
    })
    .filter((obj): obj is RenderedObject => obj !== null);
}

/** `kind/name` of an object, for messages. */
export function objectId(obj: RenderedObject): string {
  return `${obj.kind}/${obj.metadata.name}`;
}
