/**
 * The install commands of the README and the chart README agree: one release name and namespace,
 * every sidecar example names the application's namespace (the chart refuses it otherwise), and
 * every example renders with the chart as written.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DOCS = ["README.md", "chart/README.md"];

/** Each `helm install|upgrade ...` command of a document, continuation lines joined. */
function helmCommands(path: string): string[] {
  const text = readFileSync(join(ROOT, path), "utf8").replace(/\\\n\s*/g, "");
  return [...text.matchAll(/^helm (?:install|upgrade) .*$/gm)].map((match) => match[0]);
}

describe("install commands in the READMEs", () => {
  const commands = DOCS.flatMap((doc) => helmCommands(doc).map((command) => ({ doc, command })));

  test("both READMEs have install commands", () => {
    for (const doc of DOCS)
      assert.ok(
        commands.some((entry) => entry.doc === doc),
        doc,
      );
  });

  test("one release name and namespace everywhere", () => {
    for (const { doc, command } of commands) {
      assert.match(command, /^helm (install|upgrade) aap /, `${doc}: ${command}`);
      assert.match(command, /--namespace aap-extproc\b/, `${doc}: ${command}`);
    }
  });

  test("sidecar examples name the application's namespace", () => {
    const sidecar = commands.filter(({ command }) => command.includes("envoyFilter.mode=sidecar"));
    assert.ok(sidecar.length >= 2);
    for (const { doc, command } of sidecar)
      assert.match(command, /--set envoyFilter\.namespace=\S+/, `${doc}: ${command}`);
  });

  test("every example from a checkout renders", () => {
    for (const { doc, command } of commands) {
      if (!command.startsWith("helm install aap ./chart ")) continue;
      const sets = [...command.matchAll(/--set (\S+)/g)].flatMap((match) => [
        "--set",
        match[1] as string,
      ]);
      const args = ["template", "aap", join(ROOT, "chart"), "--namespace", "aap-extproc", ...sets];
      const rendered = execFileSync(join(ROOT, ".tools", "bin", "helm4"), args, {
        encoding: "utf8",
      });
      assert.match(rendered, /kind: EnvoyFilter/, `${doc}: ${command}`);
    }
  });
});
