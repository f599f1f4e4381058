/**
 * Checks rendered objects against their published schemas, rejecting unknown fields.
 *
 * Two layers, because neither is enough alone:
 * - the TypeScript interfaces of `kubernetes-models` (Kubernetes), `@kubernetes-models/istio`,
 *   `@kubernetes-models/cert-manager` and `@kubernetes-models/prometheus-operator` (generated from the OpenAPI schemas and CRDs). Each object
 *   becomes an object literal typed with its interface and is type-checked in memory: excess
 *   property checks reject unknown fields at any depth, and string-literal unions reject bad enums;
 * - the same packages' runtime validators (ajv, compiled from the same schemas), which add formats
 *   such as int32 ranges and required fields.
 */
import ts from "typescript";
import { objectId, type RenderedObject, ROOT } from "./helm.ts";

/** Where each kind's interface and model class live. */
interface KindModel {
  readonly module: string;
  readonly type: string;
}

/** Every kind the chart may render, keyed by `apiVersion/kind`. */
export const KIND_MODELS: Readonly<Record<string, KindModel>> = {
  "apps/v1/Deployment": { module: "kubernetes-models/apps/v1", type: "Deployment" },
  "v1/Service": { module: "kubernetes-models/v1", type: "Service" },
  "v1/ServiceAccount": { module: "kubernetes-models/v1", type: "ServiceAccount" },
  "v1/Secret": { module: "kubernetes-models/v1", type: "Secret" },
  "policy/v1/PodDisruptionBudget": {
    module: "kubernetes-models/policy/v1",
    type: "PodDisruptionBudget",
  },
  "autoscaling/v2/HorizontalPodAutoscaler": {
    module: "kubernetes-models/autoscaling/v2",
    type: "HorizontalPodAutoscaler",
  },
  "networking.k8s.io/v1/NetworkPolicy": {
    module: "kubernetes-models/networking.k8s.io/v1",
    type: "NetworkPolicy",
  },
  "networking.istio.io/v1alpha3/EnvoyFilter": {
    module: "@kubernetes-models/istio/networking.istio.io/v1alpha3",
    type: "EnvoyFilter",
  },
  "cert-manager.io/v1/Certificate": {
    module: "@kubernetes-models/cert-manager/cert-manager.io/v1",
    type: "Certificate",
  },
  "monitoring.coreos.com/v1/ServiceMonitor": {
    module: "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
    type: "ServiceMonitor",
  },
};

/** One schema violation of one object. */
export interface SchemaProblem {
  readonly object: string;
  readonly message: string;
}

function modelFor(obj: RenderedObject): KindModel {
  const model = KIND_MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (model === undefined) throw new Error(`no schema known for ${obj.apiVersion} ${obj.kind}`);
  return model;
}

/**
 * Type-checks every object against its interface in one in-memory program (one program keeps this
 * to a few seconds). Returns one problem per TypeScript diagnostic, attributed to its object.
 */
export function typeCheckObjects(objects: readonly RenderedObject[]): SchemaProblem[] {
  const fileName = `${ROOT}/test/chart/__rendered_objects__.ts`;
  const imports = new Map<string, Set<string>>();
  const lines: string[] = [];
  const owners: Array<{ firstLine: number; id: string }> = [];
  let lineCount = 0;
  objects.forEach((obj, index) => {
    const { module, type } = modelFor(obj);
    const names = imports.get(module) ?? new Set<string>();
    names.add(`I${type}`);
    imports.set(module, names);
    const declaration = `export const object${index}: I${type} = ${JSON.stringify(obj, null, 1)};`;
    owners.push({ firstLine: lineCount, id: objectId(obj) });
    lineCount += declaration.split("\n").length;
    lines.push(declaration);
  });
  const header = [...imports].map(
    ([module, names]) => `import type { ${[...names].join(", ")} } from "${module}";`,
  );
  const source = [...header, ...lines].join("\n");
  const offset = header.length;

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, version, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, source, version)
      : getSourceFile.call(host, name, version, ...rest);
  host.fileExists = (name) => name === fileName || fileExists.call(host, name);
  host.readFile = (name) => (name === fileName ? source : readFile.call(host, name));
  const program = ts.createProgram([fileName], options, host);
  const diagnostics = ts.getPreEmitDiagnostics(program);

  return diagnostics.map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
    if (diagnostic.file?.fileName !== fileName || diagnostic.start === undefined) {
      return { object: "(schema setup)", message };
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const owner = owners.findLast((candidate) => candidate.firstLine <= line - offset);
    const text = diagnostic.file.text.slice(diagnostic.start, diagnostic.start + 60).split("\n")[0];
    return { object: owner?.id ?? "(imports)", message: `${message} (at ${text})` };
  });
}

/** Runs the kubernetes-models runtime validator of each object's kind. */
export async function validateObjects(
  objects: readonly RenderedObject[],
): Promise<SchemaProblem[]> {
  const problems: SchemaProblem[] = [];
  for (const obj of objects) {
    const { module, type } = modelFor(obj);
    const exports = (await import(module)) as Record<
      string,
      new (
        data: unknown,
      ) => { validate(): void }
    >;
    const Model = exports[type];
    if (Model === undefined) throw new Error(`${module} does not export ${type}`);
    try {
      new Model(obj).validate();
    } catch (error) {
      problems.push({ object: objectId(obj), message: String(error) });
    }
  }
  return problems;
}
