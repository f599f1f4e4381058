/**
 * values.yaml is the chart's documented API: every key carries a comment, values.schema.json
 * describes exactly the keys values.yaml has (strictly), and README.md is what helm-docs
 * generates from them (`npm run chart:docs` regenerates it).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isMap, parse, parseDocument, type YAMLMap } from "yaml";
import { CHART_DIR, runTool } from "./support/helm.ts";

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  oneOf?: Schema[];
}

/** Values whose content is a Kubernetes block (or free-form map) passed through whole. */
const PASS_THROUGH = new Set([
  "resources",
  "podSecurityContext",
  "securityContext",
  "readinessProbe",
  "livenessProbe",
  "startupProbe",
  "podAnnotations",
  "podLabels",
  "deploymentAnnotations",
  "commonLabels",
  "nodeSelector",
  "affinity",
  "service.annotations",
  "serviceAccount.annotations",
  "envoyFilter.gateway.selector",
  "envoyFilter.sidecar.selector",
]);
/** Schema keys deliberately absent from values.yaml. */
const SCHEMA_ONLY = new Set(["global"]);

const values = parse(readFileSync(join(CHART_DIR, "values.yaml"), "utf8")) as Record<
  string,
  unknown
>;
const schema = JSON.parse(readFileSync(join(CHART_DIR, "values.schema.json"), "utf8")) as Schema;

/** Dotted paths of every key in values.yaml, stopping at pass-through blocks. */
function valuePaths(node: unknown, prefix = ""): string[] {
  if (typeof node !== "object" || node === null || Array.isArray(node)) return [];
  return Object.entries(node).flatMap(([key, child]) => {
    const path = prefix + key;
    return PASS_THROUGH.has(path) ? [path] : [path, ...valuePaths(child, `${path}.`)];
  });
}

/** Dotted paths of every property in the schema, stopping at pass-through blocks. */
function schemaPaths(node: Schema, prefix = ""): string[] {
  return Object.entries(node.properties ?? {}).flatMap(([key, child]) => {
    const path = prefix + key;
    return PASS_THROUGH.has(path) ? [path] : [path, ...schemaPaths(child, `${path}.`)];
  });
}

function schemaAt(path: string): Schema | undefined {
  return path.split(".").reduce<Schema | undefined>((node, key) => node?.properties?.[key], schema);
}

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

describe("values.schema.json", () => {
  test("has a property for every key of values.yaml, with the default's type", () => {
    const problems = valuePaths(values).flatMap((path) => {
      const node = schemaAt(path);
      if (node === undefined) return [`${path}: missing from the schema`];
      const actual = jsonType(
        path.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], values),
      );
      const allowed = [node.type, ...(node.oneOf ?? []).map((option) => option.type)].flat();
      const ok = allowed.includes(actual) || (actual === "integer" && allowed.includes("number"));
      return ok ? [] : [`${path}: default is ${actual}, schema allows ${allowed.join("|")}`];
    });
    assert.deepEqual(problems, []);
  });

  test("has no property that values.yaml lacks", () => {
    const keys = new Set(valuePaths(values));
    assert.deepEqual(
      schemaPaths(schema).filter((path) => !keys.has(path) && !SCHEMA_ONLY.has(path)),
      [],
    );
  });

  test("rejects unknown keys in every object it describes", () => {
    const open = (node: Schema, path: string): string[] => {
      const here =
        node.properties !== undefined && node.additionalProperties !== false ? [path] : [];
      return [
        ...here,
        ...Object.entries(node.properties ?? {}).flatMap(([key, child]) =>
          open(child, `${path}.${key}`),
        ),
      ];
    };
    assert.deepEqual(open(schema, "(root)"), []);
  });
});

/** Every template and partial, concatenated. */
function templatesText(): string {
  const dir = join(CHART_DIR, "templates");
  return readdirSync(dir)
    .map((name) => readFileSync(join(dir, name), "utf8"))
    .join("\n");
}

/**
 * Whether a template reads `path`: as `.Values.<path>`, or through a variable bound to a parent
 * (`$ef := .Values.envoyFilter` then `$ef.mode`). Stands in for helm-tool's unused-value lint.
 */
function isRead(path: string, text: string): boolean {
  const quote = (literal: string) => literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  if (new RegExp(`\\.Values\\.${quote(path)}(?![\\w])`).test(text)) return true;
  for (const [, alias, prefix] of text.matchAll(/\$(\w+) :?= \.Values\.([\w.]+)/g)) {
    if (path.startsWith(`${prefix}.`)) {
      const rest = path.slice(`${prefix}.`.length);
      if (new RegExp(`\\$${alias}\\.${quote(rest)}(?![\\w])`).test(text)) return true;
    }
  }
  return false;
}

describe("values.yaml", () => {
  test("every value is read by a template", () => {
    const text = templatesText();
    const leaves = valuePaths(values).filter((path) => {
      const value = path
        .split(".")
        .reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], values);
      return PASS_THROUGH.has(path) || jsonType(value) !== "object";
    });
    assert.ok(leaves.length > 50, `only ${leaves.length} values found`);
    assert.deepEqual(
      leaves.filter((path) => !isRead(path, text)),
      [],
    );
  });

  test("the unused-value check notices an unread value (self-test)", () => {
    assert.equal(
      isRead("envoyFilter.mode", "{{ $ef := .Values.envoyFilter }}{{ $ef.mode }}"),
      true,
    );
    assert.equal(isRead("envoyFilter.mode", "{{ .Values.envoyFilter.modeX }}"), false);
    assert.equal(isRead("image.tag", "{{ .Values.image.tags }}"), false);
  });

  test("has a full-sentence comment above every key", () => {
    const doc = parseDocument(readFileSync(join(CHART_DIR, "values.yaml"), "utf8"));
    const missing: string[] = [];
    const walk = (map: YAMLMap, prefix: string, inherited: string | undefined) => {
      map.items.forEach((pair, index) => {
        const key = String((pair.key as { value: unknown }).value);
        const path = prefix + key;
        const comment =
          (pair.key as { commentBefore?: string | null }).commentBefore ??
          (index === 0 ? (map.commentBefore ?? inherited) : undefined);
        if (!comment || !/[.:)`]\s*$/m.test(comment)) missing.push(path);
        if (isMap(pair.value) && !PASS_THROUGH.has(path)) walk(pair.value, `${path}.`, undefined);
      });
    };
    assert.ok(isMap(doc.contents));
    walk(doc.contents, "", doc.commentBefore ?? undefined);
    assert.deepEqual(missing, []);
  });
});

test("README.md is up to date with values.yaml (run npm run chart:docs)", async () => {
  const generated = await runTool("helm-docs", [
    "--chart-search-root",
    ".",
    "--template-files",
    "README.template.md",
    "--skip-version-footer",
    "--sort-values-order",
    "file",
    "--dry-run",
    "--log-level",
    "error",
  ]);
  const committed = readFileSync(join(CHART_DIR, "README.md"), "utf8");
  assert.equal(generated.trimEnd(), committed.trimEnd());
});
