/**
 * Renders the default values and every chart/ci scenario with Helm 3 and Helm 4, and checks every
 * object against its Kubernetes, Istio or cert-manager schema with unknown fields rejected. Both
 * Helm majors must render the same objects.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import {
  ciValuesFiles,
  HELMS,
  type HelmName,
  objectId,
  type RenderedObject,
  render,
} from "./support/helm.ts";
import { typeCheckObjects, validateObjects } from "./support/kube-schema.ts";

const scenarios: Array<string | undefined> = [undefined, ...ciValuesFiles()];
const label = (values: string | undefined) => values ?? "default values";

/** Renders of every scenario by every Helm, filled once before the tests. */
const renders = new Map<string, RenderedObject[]>();
const key = (helm: HelmName, values: string | undefined) => `${helm} ${label(values)}`;

/** Secret data is random on a first install; mask it to compare renders. */
function withoutSecretData(objects: readonly RenderedObject[]): unknown[] {
  // Generated certificates differ between renders, also where the EnvoyFilter inlines the CA.
  const pem = /-----BEGIN CERTIFICATE-----[^"]*?-----END CERTIFICATE-----(\\n)?/g;
  return objects.map((obj) =>
    obj.kind === "Secret"
      ? { ...obj, data: "<masked>" }
      : JSON.parse(JSON.stringify(obj).replace(pem, "<certificate>")),
  );
}

const sorted = (objects: readonly RenderedObject[]) =>
  [...objects].sort((a, b) => objectId(a).localeCompare(objectId(b)));

before(async () => {
  for (const helm of HELMS) {
    for (const values of scenarios) renders.set(key(helm, values), await render(helm, values));
  }
});

test("the schema check rejects unknown fields, bad types and bad enums (self-test)", () => {
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "x" },
    spec: {
      selector: { matchLabels: { a: "b" } },
      template: { spec: { containers: [{ name: "c", imagePullPolcy: "Always" }] } },
    },
  };
  const envoyFilter = {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: { name: "y" },
    spec: { configPatches: [{ applyTo: "HTTP_FILTER", match: { context: "EVERYWHERE" } }] },
  };
  // TypeScript reports the first problem of each object, so each mistake gets its own object.
  const misspelledEnvoyFilter = {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: { name: "w" },
    spec: { workloadSelecter: { labels: { app: "a" } } },
  };
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "z" },
    spec: { ports: [{ port: "443" }] },
  };
  const problems = typeCheckObjects([
    deployment,
    envoyFilter,
    misspelledEnvoyFilter,
    service,
  ] as RenderedObject[]);
  const text = problems.map((problem) => `${problem.object}: ${problem.message}`).join("\n");
  assert.match(text, /Deployment\/x: .*imagePullPolcy.* does not exist in type 'IContainer'/);
  assert.match(text, /EnvoyFilter\/w: .*workloadSelecter.* does not exist/);
  assert.match(text, /EnvoyFilter\/y: .*"EVERYWHERE"/);
  assert.match(text, /Service\/z: .*string.*number/s);
});

test("the runtime validators catch formats and required fields (self-test)", async () => {
  const objects = [
    { metadata: { name: "x" }, spec: { replicas: 2 ** 40, selector: {}, template: {} } },
    { metadata: { name: "y" }, spec: { template: {} } },
  ].map((obj) => ({ apiVersion: "apps/v1", kind: "Deployment", ...obj }) as RenderedObject);
  const text = (await validateObjects(objects))
    .map((problem) => `${problem.object}: ${problem.message}`)
    .join("\n");
  assert.match(text, /Deployment\/x: .*replicas must match format "int32"/);
  assert.match(text, /Deployment\/y: .*must have required property selector/);
});

for (const helm of HELMS) {
  describe(`${helm} template`, () => {
    for (const values of scenarios) {
      test(`${label(values)}: every object matches its schema`, async () => {
        const objects = renders.get(key(helm, values)) ?? [];
        assert.ok(objects.length >= 4, `only ${objects.length} objects rendered`);
        assert.deepEqual(typeCheckObjects(objects), []);
        assert.deepEqual(await validateObjects(objects), []);
      });
    }
  });
}

describe("Helm 3 and Helm 4 agree", () => {
  for (const values of scenarios) {
    test(label(values), () => {
      const [helm3, helm4] = HELMS.map((helm) => sorted(renders.get(key(helm, values)) ?? []));
      assert.ok(helm3 !== undefined && helm4 !== undefined && helm3.length > 0);
      assert.deepEqual(withoutSecretData(helm4), withoutSecretData(helm3));
    });
  }
});

describe("what each scenario renders", () => {
  const kinds = (values: string | undefined) =>
    (renders.get(key("helm4", values)) ?? []).map((obj) => obj.kind).sort();
  const base = ["Deployment", "EnvoyFilter", "PodDisruptionBudget", "Service"];

  test("default values", () => {
    assert.deepEqual(kinds(undefined), [...base, "Secret", "ServiceAccount"].sort());
  });
  test("gateway scenario adds the autoscaler and the network policy", () => {
    assert.deepEqual(
      kinds("ci/envoyfilter-gateway-values.yaml"),
      [...base, "HorizontalPodAutoscaler", "NetworkPolicy", "Secret", "ServiceAccount"].sort(),
    );
  });
  test("cert-manager scenario renders a Certificate instead of a Secret", () => {
    assert.deepEqual(
      kinds("ci/cert-manager-values.yaml"),
      [...base, "Certificate", "ServiceAccount"].sort(),
    );
  });
  test("metrics scenario adds the ServiceMonitor and the network policy", () => {
    assert.deepEqual(
      kinds("ci/metrics-values.yaml"),
      [...base, "NetworkPolicy", "Secret", "ServiceAccount", "ServiceMonitor"].sort(),
    );
  });
  test("mutual-tls scenario adds Envoy's client certificate Secret, in the EnvoyFilter's namespace", () => {
    const objects = renders.get(key("helm4", "ci/mutual-tls-values.yaml")) ?? [];
    assert.deepEqual(
      kinds("ci/mutual-tls-values.yaml"),
      [...base, "Secret", "Secret", "ServiceAccount"].sort(),
    );
    const client = objects.find((obj) => obj.metadata.name === "aap-aap-extproc-client");
    assert.equal(client?.kind, "Secret");
    assert.equal(client.metadata.namespace, "istio-system");
  });
  test("existing-secret scenario renders neither a Secret nor a ServiceAccount", () => {
    assert.deepEqual(kinds("ci/existing-secret-values.yaml"), base);
  });
  for (const helm of HELMS) {
    test(`${helm}: the EnvoyFilter renders without --api-versions too (helm template, GitOps)`, async () => {
      const objects = await render(helm, undefined, []);
      assert.equal(objects.filter((obj) => obj.kind === "EnvoyFilter").length, 1);
      assert.ok(objects.some((obj) => obj.kind === "Deployment"));
    });
  }
  test("envoyFilter.enabled=false renders the processor and no EnvoyFilter", async () => {
    const objects = await render("helm4", undefined, [], { "envoyFilter.enabled": "false" });
    assert.equal(objects.filter((obj) => obj.kind === "EnvoyFilter").length, 0);
    assert.ok(objects.some((obj) => obj.kind === "Deployment"));
    assert.ok(objects.some((obj) => obj.kind === "Service"));
  });
});
