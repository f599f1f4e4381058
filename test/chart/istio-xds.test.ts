/**
 * What Istio does with the chart's EnvoyFilter, proven with Istio's own xDS generation
 * (tools/istio-xds, run offline): istiod applies patches silently, so an EnvoyFilter that matches
 * nothing, or puts ext_proc after the router (a listener Envoy rejects), renders and lints fine
 * and only shows in the generated listeners. For the defaults and every chart/ci scenario, on the
 * proxy the values describe: ext_proc is in every HTTP chain of the targeted context, before the
 * router, with the router last; its cluster is pushed; its config is the rendered one. Every
 * placement is generated for a gateway and a sidecar, next to Istio's authn/authz, fault and CORS
 * filters. Negative controls prove the checks fail on the mistakes they exist for.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { equals, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ClusterSchema } from "../../processor/gen/envoy/config/cluster/v3/cluster_pb.ts";
import {
  type ExternalProcessor,
  ExternalProcessorSchema,
} from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/ext_proc_pb.ts";
import { contextOf, envoyFilterValues, proxyFor } from "./support/chart-values.ts";
import {
  decodeAny,
  decodeEnvoyFilter,
  ENVOY_REGISTRY,
  EXT_PROC_TYPE_URL,
} from "./support/envoy-config.ts";
import { ciValuesFiles, type RenderedObject, render } from "./support/helm.ts";
import {
  chartWarnings,
  fixturesFor,
  generateXds,
  type ProxySpec,
  pinnedIstioVersion,
  type XdsReport,
} from "./support/istio-xds.ts";
import {
  chainsIn,
  generatedCluster,
  generatedFilters,
  names,
  type PatchContext,
  placementProblems,
  ROUTER,
} from "./support/xds-chains.ts";

const scenarios: Array<string | undefined> = [undefined, ...ciValuesFiles()];
const label = (values: string | undefined) => values ?? "default values";

/** The Istio release istio-xds runs (the pinned module's line, e.g. 1.31.0). */
const ISTIO = await pinnedIstioVersion();

/** Istio's own HTTP filters the fixtures make it render, which ext_proc's position is told by. */
const ISTIO_FILTERS = {
  "custom authz": "envoy.filters.http.ext_authz",
  authn: "envoy.filters.http.jwt_authn",
  authz: "envoy.filters.http.rbac",
  fault: "envoy.filters.http.fault",
  cors: "envoy.filters.http.cors",
  stats: "istio.stats",
} as const;

/** The rendered EnvoyFilter (Helm 4; render.test.ts proves Helm 3 agrees). */
async function renderEnvoyFilter(
  values?: string,
  set: Readonly<Record<string, string>> = {},
): Promise<RenderedObject> {
  const envoyFilter = (await render("helm4", values, undefined, set)).find(
    (obj) => obj.kind === "EnvoyFilter",
  );
  assert.ok(envoyFilter, `no EnvoyFilter rendered for ${label(values)}`);
  return envoyFilter;
}

/** What Istio pushes to the proxy with this EnvoyFilter and the proxy's fixtures. */
const generate = (envoyFilter: RenderedObject, proxy: ProxySpec): Promise<XdsReport> =>
  generateXds([envoyFilter, ...fixturesFor(proxy)], proxy);

/** Mutable view of the patches, for the negative controls. */
type Patch = {
  match: {
    context: string;
    listener?: { filterChain: { filter: { subFilter?: { name: string } } } };
  };
  patch: { operation: string; filterClass?: string };
};
/** A copy of the EnvoyFilter with `edit` applied to its spec. */
function edited<Spec>(envoyFilter: RenderedObject, edit: (spec: Spec) => void): RenderedObject {
  const copy = structuredClone(envoyFilter) as RenderedObject & { spec: Spec };
  edit(copy.spec);
  return copy;
}

/**
 * Versions on each side of a proxyVersion regex: the first 1.x.0 it matches (the pinned release
 * first), and the first release after the pinned one it does not match (an upgrade past it).
 */
function versionsAround(proxyVersion: string): {
  inside: string | undefined;
  outside: string | undefined;
} {
  const regex = new RegExp(proxyVersion);
  const minor = Number(ISTIO.split(".")[1]);
  const all = Array.from({ length: 100 }, (_, m) => `1.${m}.0`);
  return {
    inside: [ISTIO, ...all].find((version) => regex.test(version)),
    outside: all.slice(minor + 1).find((version) => !regex.test(version)),
  };
}

describe(`Istio ${ISTIO} applies every scenario's EnvoyFilter`, () => {
  for (const values of scenarios) {
    const ef = envoyFilterValues(values);
    const context = contextOf(ef);
    describe(label(values), () => {
      let envoyFilter: RenderedObject;
      let report: XdsReport;
      before(async () => {
        envoyFilter = await renderEnvoyFilter(values);
        const version = ef.proxyVersion ? versionsAround(ef.proxyVersion).inside : undefined;
        report = await generate(envoyFilter, proxyFor(ef, version));
      });
      test(`ext_proc is in every ${context} HTTP chain, before the router, router last`, () => {
        const { filterName } = decodeEnvoyFilter(envoyFilter);
        assert.deepEqual(placementProblems(report, context, filterName), []);
        assert.deepEqual(chartWarnings(report), []);
      });
      test("its cluster is pushed, as rendered", () => {
        const { cluster } = decodeEnvoyFilter(envoyFilter);
        const pushed = generatedCluster(report, cluster.name);
        assert.ok(pushed, `cluster ${cluster.name} is not pushed`);
        const decoded = fromJson(ClusterSchema, pushed as JsonValue, { registry: ENVOY_REGISTRY });
        assert.ok(equals(ClusterSchema, decoded, cluster), JSON.stringify(pushed));
      });
      test("its typed config is the rendered one in every chain", () => {
        const { filterName, extProc } = decodeEnvoyFilter(envoyFilter);
        const configs = generatedFilters(report, context, filterName);
        assert.equal(configs.length, chainsIn(report, context).length);
        for (const json of configs) {
          const generated = decodeAny<ExternalProcessor>(json as JsonValue, EXT_PROC_TYPE_URL);
          assert.ok(equals(ExternalProcessorSchema, generated, extProc), JSON.stringify(json));
        }
      });
    });
  }
});

describe("where each placement lands among Istio's authn, authz, fault, CORS and stats filters", () => {
  const proxies: Record<ProxySpec["kind"], { set: Record<string, string>; proxy: ProxySpec }> = {
    gateway: { set: {}, proxy: proxyFor(envoyFilterValues()) },
    sidecar: {
      set: {
        "envoyFilter.mode": "sidecar",
        "envoyFilter.namespace": "shop",
        "envoyFilter.sidecar.selector.app": "shop",
      },
      proxy: { kind: "sidecar", namespace: "shop", labels: { app: "shop" } },
    },
  };
  /** Earlier chart versions' filter classes render the placement closest to their meaning. */
  const renders: Record<string, "beforeRouter" | "first"> = {
    beforeRouter: "beforeRouter",
    first: "first",
    AUTHN: "first",
    AUTHZ: "beforeRouter",
    STATS: "beforeRouter",
  };
  for (const [kind, { set, proxy }] of Object.entries(proxies)) {
    const context: PatchContext = kind === "gateway" ? "GATEWAY" : "SIDECAR_INBOUND";
    for (const [placement, effective] of Object.entries(renders)) {
      test(`${kind}: ${placement}`, async (t) => {
        const envoyFilter = await renderEnvoyFilter(undefined, {
          ...set,
          "envoyFilter.placement": placement,
        });
        const { filterName } = decodeEnvoyFilter(envoyFilter);
        const report = await generate(envoyFilter, proxy);
        assert.deepEqual(placementProblems(report, context, filterName), []);
        for (const chain of chainsIn(report, context)) {
          const order = names(chain);
          const at = order.indexOf(filterName);
          for (const istio of Object.values(ISTIO_FILTERS)) {
            assert.ok(order.includes(istio), `${chain.id}: the fixture lacks ${istio}`);
            const after = at > order.lastIndexOf(istio);
            const before = at < order.indexOf(istio);
            assert.ok(effective === "first" ? before : after, `${chain.id}: ${order.join(", ")}`);
          }
          assert.equal(at, effective === "first" ? 0 : order.indexOf(ROUTER) - 1);
        }
        const [sample] = chainsIn(report, context);
        if (sample) t.diagnostic(`${sample.id}: ${names(sample).join(" > ")}`);
      });
    }
  }
});

describe("the checks fail on a broken EnvoyFilter (negative controls)", () => {
  let gateway: RenderedObject;
  let sidecar: RenderedObject;
  const gatewayProxy = proxyFor(envoyFilterValues());
  const sidecarValues = "ci/envoyfilter-sidecar-values.yaml";
  const sidecarProxy = proxyFor(envoyFilterValues(sidecarValues));
  before(async () => {
    gateway = await renderEnvoyFilter();
    sidecar = await renderEnvoyFilter(sidecarValues);
  });
  const problemsOf = async (
    envoyFilter: RenderedObject,
    proxy: ProxySpec,
    context: PatchContext,
  ) => {
    const report = await generate(envoyFilter, proxy);
    const { filterName, cluster } = decodeEnvoyFilter(envoyFilter);
    const problems = placementProblems(report, context, filterName);
    return { problems: problems.join("\n"), pushed: generatedCluster(report, cluster.name) };
  };
  const setContext = (context: string) => (spec: { configPatches: Patch[] }) => {
    for (const patch of spec.configPatches) patch.match.context = context;
  };

  test("wrong context: SIDECAR_OUTBOUND on a sidecar", async () => {
    const broken = edited(sidecar, setContext("SIDECAR_OUTBOUND"));
    const { problems } = await problemsOf(broken, sidecarProxy, "SIDECAR_INBOUND");
    assert.match(problems, /appears 0 times/);
    assert.match(problems, /outside SIDECAR_INBOUND/);
  });
  test("wrong context: SIDECAR_INBOUND on a gateway", async () => {
    const broken = edited(gateway, setContext("SIDECAR_INBOUND"));
    const { problems, pushed } = await problemsOf(broken, gatewayProxy, "GATEWAY");
    assert.match(problems, /appears 0 times/);
    assert.equal(pushed, undefined);
  });
  test("misspelled sub-filter: INSERT_BEFORE a filter that is not there", async () => {
    const broken = edited(gateway, (spec: { configPatches: Patch[] }) => {
      const subFilter = spec.configPatches[0]?.match.listener?.filterChain.filter.subFilter;
      assert.ok(subFilter);
      subFilter.name = "envoy.filters.http.routr";
    });
    const { problems, pushed } = await problemsOf(broken, gatewayProxy, "GATEWAY");
    assert.match(problems, /appears 0 times/);
    assert.ok(pushed, "the cluster patch still applies: only the filter is lost");
  });
  test("a workload selector that matches no pod", async () => {
    const broken = edited(gateway, (spec: { workloadSelector: { labels: unknown } }) => {
      spec.workloadSelector.labels = { istio: "ingress-gateway" };
    });
    const { problems, pushed } = await problemsOf(broken, gatewayProxy, "GATEWAY");
    assert.match(problems, /appears 0 times/);
    assert.equal(pushed, undefined);
  });
  test("ADD with filterClass AUTHZ (earlier chart versions): appended after the router", async () => {
    for (const [envoyFilter, proxy, context] of [
      [gateway, gatewayProxy, "GATEWAY"],
      [sidecar, sidecarProxy, "SIDECAR_INBOUND"],
    ] as const) {
      const broken = edited(envoyFilter, (spec: { configPatches: Patch[] }) => {
        const [filter] = spec.configPatches;
        assert.ok(filter);
        filter.patch = { ...filter.patch, operation: "ADD", filterClass: "AUTHZ" };
        delete filter.match.listener?.filterChain.filter.subFilter;
      });
      const { problems } = await problemsOf(broken, proxy, context);
      assert.match(problems, /comes after the router/);
      assert.match(problems, /the router is not last/);
    }
  });
});

describe("proxyVersion: what an Istio upgrade past the range does", () => {
  const values = "ci/envoyfilter-gateway-values.yaml";
  const ef = envoyFilterValues(values);
  const { inside, outside } = versionsAround(ef.proxyVersion);
  let envoyFilter: RenderedObject;
  before(async () => {
    envoyFilter = await renderEnvoyFilter(values);
  });
  test(`${values} pins a range that holds Istio ${ISTIO}`, () => {
    assert.ok(ef.proxyVersion, "the scenario no longer sets proxyVersion");
    assert.equal(inside, ISTIO);
    assert.ok(outside, `no release after ${ISTIO} is outside ${ef.proxyVersion}`);
  });
  test(`inside the range (${inside}): both patches apply`, async () => {
    const report = await generate(envoyFilter, proxyFor(ef, inside));
    const { filterName, cluster } = decodeEnvoyFilter(envoyFilter);
    assert.deepEqual(placementProblems(report, "GATEWAY", filterName), []);
    assert.ok(generatedCluster(report, cluster.name));
  });
  test(`outside the range (${outside}): Istio silently applies neither patch`, async () => {
    const report = await generate(envoyFilter, proxyFor(ef, outside));
    const { filterName, cluster } = decodeEnvoyFilter(envoyFilter);
    assert.match(placementProblems(report, "GATEWAY", filterName).join("\n"), /appears 0 times/);
    assert.equal(generatedCluster(report, cluster.name), undefined);
    assert.deepEqual(chartWarnings(report), [], "nothing warns");
    assert.ok(chainsIn(report, "GATEWAY").length > 0, "the gateway keeps serving, unprotected");
  });
});

describe("mutual TLS: Istio pushes the client certificate's SDS reference unchanged", () => {
  const cases: Array<[string, string | undefined]> = [
    ["gateway", undefined],
    ["sidecar", "ci/envoyfilter-sidecar-values.yaml"],
  ];
  for (const [kind, values] of cases) {
    test(`${kind}: the pushed cluster asks ADS for kubernetes://<client Secret>`, async () => {
      const envoyFilter = await renderEnvoyFilter(values, { "tls.clientAuth.enabled": "true" });
      const report = await generate(envoyFilter, proxyFor(envoyFilterValues(values)));
      const { cluster } = decodeEnvoyFilter(envoyFilter);
      const pushed = generatedCluster(report, cluster.name);
      assert.ok(pushed, `cluster ${cluster.name} is not pushed`);
      const decoded = fromJson(ClusterSchema, pushed as JsonValue, { registry: ENVOY_REGISTRY });
      assert.ok(equals(ClusterSchema, decoded, cluster), JSON.stringify(pushed));
      const sds =
        decodeEnvoyFilter(envoyFilter).upstreamTls?.commonTlsContext
          ?.tlsCertificateSdsSecretConfigs[0];
      assert.equal(sds?.name, "kubernetes://aap-aap-extproc-client");
      assert.equal(sds?.sdsConfig?.configSourceSpecifier.case, "ads");
      assert.deepEqual(chartWarnings(report), []);
    });
  }
});
