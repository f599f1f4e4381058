/**
 * `helm lint --strict` with Helm 3 and Helm 4, on the default values and on every scenario in
 * chart/ci (the files `ct lint` would use).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ciValuesFiles, HELMS, lint } from "./support/helm.ts";

const scenarios: Array<string | undefined> = [undefined, ...ciValuesFiles()];

test("chart/ci holds the scenarios the chart promises", () => {
  assert.deepEqual(ciValuesFiles(), [
    "ci/body-inspection-values.yaml",
    "ci/cert-manager-values.yaml",
    "ci/envoyfilter-gateway-values.yaml",
    "ci/envoyfilter-sidecar-values.yaml",
    "ci/existing-secret-values.yaml",
    "ci/gateway-api-values.yaml",
    "ci/metrics-values.yaml",
    "ci/mutual-tls-values.yaml",
    "ci/observability-values.yaml",
  ]);
});

for (const helm of HELMS) {
  describe(`${helm} lint --strict`, () => {
    for (const values of scenarios) {
      test(values ?? "default values", async () => {
        const output = await lint(helm, values);
        assert.match(output, /1 chart\(s\) linted, 0 chart\(s\) failed/);
        assert.doesNotMatch(output, /\[(WARNING|ERROR)\]/);
      });
    }
  });
}
