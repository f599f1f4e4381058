/**
 * The chart and the processor agree on the environment: every variable the Deployment sets is in
 * the processor's settings table, every literal value parses there, and the values that drive
 * both sides (body limit, observability mode, time budgets) land consistently in the processor's
 * config and in Envoy's filter.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { loadConfig, SETTINGS } from "../../processor/config/index.ts";
import { decodeEnvoyFilter } from "./support/envoy-config.ts";
import { ciValuesFiles, type RenderedObject, render } from "./support/helm.ts";

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

const scenarios: Array<string | undefined> = [undefined, ...ciValuesFiles()];
const label = (values: string | undefined) => values ?? "default values";
const documented = new Set(SETTINGS.map((setting) => setting.name));
const renders = new Map<string | undefined, RenderedObject[]>();

function processorEnv(objects: readonly RenderedObject[]): EnvVar[] {
  const deployment = objects.find((obj) => obj.kind === "Deployment") as
    | { spec: { template: { spec: { containers: Array<{ name: string; env?: EnvVar[] }> } } } }
    | undefined;
  const container = deployment?.spec.template.spec.containers.find((c) => c.name === "processor");
  assert.ok(container?.env, "the Deployment has no processor container with env");
  return container.env;
}

before(async () => {
  for (const values of scenarios) renders.set(values, await render("helm4", values));
});

for (const values of scenarios) {
  describe(label(values), () => {
    test("sets only variables the processor documents, each once", () => {
      const names = processorEnv(renders.get(values) ?? []).map((env) => env.name);
      assert.deepEqual(
        names.filter((name) => !documented.has(name)),
        [],
      );
      assert.deepEqual(
        names.filter((name, index) => names.indexOf(name) !== index),
        [],
      );
    });

    test("sets values the processor accepts, consistent with the EnvoyFilter", () => {
      const objects = renders.get(values) ?? [];
      const env: Record<string, string> = {};
      // valueFrom entries (node IP, ConfigMap keys) are resolved by the kubelet: not checked here.
      for (const entry of processorEnv(objects))
        if (entry.value !== undefined) env[entry.name] = entry.value;
      const result = loadConfig(env);
      assert.ok(result.ok, `processor rejects the chart's env: ${JSON.stringify(result)}`);
      // No unknown variable; the fail-safe warnings (body inspection off, ...) are the scenario's.
      assert.deepEqual(
        result.value.warnings.filter((warning) => warning.startsWith("unknown variable")),
        [],
      );
      const { config } = result.value;

      const envoyFilter = objects.find((obj) => obj.kind === "EnvoyFilter");
      assert.ok(envoyFilter);
      const { extProc } = decodeEnvoyFilter(envoyFilter);
      assert.equal(extProc.observabilityMode, config.observabilityMode);
      assert.equal(extProc.allowModeOverride, config.bodyLimitBytes > 0);
      if (!config.observabilityMode) {
        const messageTimeoutUs =
          Number(extProc.messageTimeout?.seconds ?? 0n) * 1e6 +
          (extProc.messageTimeout?.nanos ?? 0) / 1e3;
        assert.ok(
          config.wafTimeoutUs < messageTimeoutUs,
          "the WAF budget must fit in Envoy's message timeout",
        );
      }
      const deployment = objects.find((obj) => obj.kind === "Deployment") as
        | { spec: { template: { spec: { terminationGracePeriodSeconds: number } } } }
        | undefined;
      const graceMs = (deployment?.spec.template.spec.terminationGracePeriodSeconds ?? 0) * 1000;
      assert.ok(
        config.drainTimeoutMs < graceMs,
        "the drain must end before Kubernetes kills the pod",
      );
      const grpcPort = objects
        .filter((obj) => obj.kind === "Service")
        .flatMap(
          (obj) => (obj.spec as { ports: Array<{ name: string; targetPort: string }> }).ports,
        )
        .find((port) => port.name === "grpc");
      assert.equal(grpcPort?.targetPort, "grpc");
      assert.ok(config.port > 1024 && config.healthPort > 1024, "ports must not need root");
    });
  });
}

describe("default values", () => {
  /**
   * What the chart sets differently from the bare image on purpose: ports a non-root container
   * can bind, the mounted certificate, the node's Agent. Everything else a fresh install sets must
   * equal the processor's own default, so `docker run` and `helm install` behave alike.
   */
  const intended = new Set([
    "DD_SERVICE_EXTENSION_PORT",
    "DD_SERVICE_EXTENSION_HEALTHCHECK_PORT",
    "DD_SERVICE_EXTENSION_TLS_CERT_FILE",
    "DD_SERVICE_EXTENSION_TLS_KEY_FILE",
  ]);

  test("every literal variable equals the processor's default, except the intended ones", () => {
    const differing: string[] = [];
    for (const entry of processorEnv(renders.get(undefined) ?? [])) {
      const setting = SETTINGS.find((candidate) => candidate.name === entry.name);
      if (entry.value === undefined || setting === undefined || intended.has(entry.name)) continue;
      const parsed = setting.parse(entry.value);
      assert.ok(parsed.ok, `${entry.name}=${entry.value} does not parse`);
      if (JSON.stringify(parsed.value) !== JSON.stringify(setting.default))
        differing.push(`${entry.name}: chart ${entry.value}, processor ${setting.defaultText}`);
    }
    assert.deepEqual(differing, []);
  });
});
