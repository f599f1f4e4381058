/**
 * The GitHub Actions workflows cannot run here, so they are checked statically: against the
 * workflow schema (SchemaStore's, as compiled into `@action-validator/core`), and for the rules
 * the project sets itself: every action pinned by commit SHA, a read-only default token, write
 * access only on the jobs that push, the test job running the project's test command, and the
 * release jobs building the image for both architectures and pushing the chart to an OCI registry.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { validateWorkflow } from "@action-validator/core";
import { parse } from "yaml";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DIR = join(ROOT, ".github", "workflows");

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  if?: string;
  permissions?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const files = readdirSync(DIR).filter((name) => /\.ya?ml$/.test(name));
const load = (name: string) => parse(readFileSync(join(DIR, name), "utf8")) as Workflow;

describe("GitHub Actions workflows", () => {
  test("there is a CI workflow and a release workflow", () => {
    assert.deepEqual(files.sort(), ["ci.yml", "release.yml"]);
  });

  for (const name of files) {
    describe(name, () => {
      test("is valid against the workflow schema", () => {
        const state = validateWorkflow(readFileSync(join(DIR, name), "utf8"));
        assert.deepEqual(state.errors, []);
      });

      test("pins every action by a full commit SHA", () => {
        for (const job of Object.values(load(name).jobs)) {
          for (const step of job.steps) {
            if (step.uses === undefined) continue;
            assert.match(
              step.uses,
              /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/,
              `${step.uses} is not pinned`,
            );
          }
        }
      });

      test("gives the token read access only, unless a job that pushes asks for packages", () => {
        const workflow = load(name);
        assert.deepEqual(workflow.permissions, { contents: "read" });
        for (const [id, job] of Object.entries(workflow.jobs)) {
          for (const [scope, access] of Object.entries(job.permissions ?? {})) {
            if (access === "read" || access === "none") continue;
            assert.equal(`${scope}: ${access}`, "packages: write", `job ${id}`);
            const pushes = job.steps.some(
              (step) => step.with?.push === true || /helm push/.test(step.run ?? ""),
            );
            assert.ok(pushes, `job ${id} may write packages but pushes nothing`);
          }
        }
      });
    });
  }

  test("CI runs the project's test command on pushes and pull requests", () => {
    const ci = load("ci.yml");
    assert.ok("push" in ci.on && "pull_request" in ci.on);
    const runs = Object.values(ci.jobs).flatMap((job) => job.steps.map((step) => step.run));
    assert.ok(runs.includes("bash .ci/run"), `runs: ${JSON.stringify(runs)}`);
  });

  test("release builds the image for amd64 and arm64 from processor/Dockerfile and pushes the chart to OCI", () => {
    const release = load("release.yml");
    const steps = Object.values(release.jobs).flatMap((job) => job.steps);
    const build = steps.find((step) => step.uses?.startsWith("docker/build-push-action@"));
    assert.equal(build?.with?.file, "processor/Dockerfile");
    assert.equal(build?.with?.platforms, "linux/amd64,linux/arm64");
    assert.equal(build?.with?.push, true);
    assert.match(String(build?.with?.["build-args"]), /VERSION=.*\n.*REVISION=/);
    assert.ok(steps.some((step) => /helm push \S+ "?oci:\/\//.test(step.run ?? "")));
    assert.ok(steps.some((step) => /tools\/chart\/release\.ts verify/.test(step.run ?? "")));
  });
});
