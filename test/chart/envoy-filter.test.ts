/**
 * Decodes the rendered EnvoyFilter patches with Envoy's own protos for every scenario, and checks
 * that the default rendering reproduces Datadog's reference Istio manifests (names aside).
 */
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { parse } from "yaml";
import {
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
} from "../../processor/gen/envoy/config/cluster/v3/cluster_pb.ts";
import { ApiVersion } from "../../processor/gen/envoy/config/core/v3/config_source_pb.ts";
import { ProcessingMode_HeaderSendMode } from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import {
  type DecodedEnvoyFilter,
  decodeAny,
  decodeEnvoyFilter,
  EXT_PROC_TYPE_URL,
} from "./support/envoy-config.ts";
import {
  CHART_DIR,
  ciValuesFiles,
  HELMS,
  NAMESPACE,
  type RenderedObject,
  render,
} from "./support/helm.ts";

const scenarios: Array<string | undefined> = [undefined, ...ciValuesFiles()];
const label = (values: string | undefined) => values ?? "default values";

/** The EnvoyFilter of each scenario, as rendered by Helm 4 (render.test.ts proves Helm 3 agrees). */
const filters = new Map<string | undefined, RenderedObject>();
const decoded = (values: string | undefined): DecodedEnvoyFilter => {
  const filter = filters.get(values);
  assert.ok(filter, `no EnvoyFilter rendered for ${label(values)}`);
  return decodeEnvoyFilter(filter);
};
const valuesOf = (file: string): Record<string, unknown> =>
  parse(readFileSync(join(CHART_DIR, file), "utf8")) as Record<string, unknown>;

before(async () => {
  for (const values of scenarios) {
    const objects = await render("helm4", values);
    const envoyFilter = objects.find((obj) => obj.kind === "EnvoyFilter");
    if (envoyFilter !== undefined) filters.set(values, envoyFilter);
  }
});

describe("the patch decoder rejects what Envoy would reject (self-test)", () => {
  const extProc = (fields: Record<string, unknown>) => ({
    "@type": EXT_PROC_TYPE_URL,
    grpc_service: { envoy_grpc: { cluster_name: "c" } },
    ...fields,
  });
  test("a misspelled field", () => {
    assert.throws(
      () => decodeAny(extProc({ failure_mode_allows: true }), EXT_PROC_TYPE_URL),
      /failure_mode_allows/,
    );
  });
  test("a Go-style duration", () => {
    assert.throws(
      () => decodeAny(extProc({ message_timeout: "200ms" }), EXT_PROC_TYPE_URL),
      /message_timeout|Duration/,
    );
  });
  test("a bad enum", () => {
    assert.throws(
      () =>
        decodeAny(
          extProc({ processing_mode: { request_header_mode: "SENDS" } }),
          EXT_PROC_TYPE_URL,
        ),
      /SENDS|request_header_mode/,
    );
  });
  test("a misspelled field in the cluster", () => {
    const envoyFilter = structuredClone(filters.get(undefined));
    assert.ok(envoyFilter);
    const patches = (
      envoyFilter.spec as { configPatches: Array<{ patch: { value: Record<string, unknown> } }> }
    ).configPatches;
    const cluster = patches[1];
    assert.ok(cluster);
    cluster.patch.value.lb_polcy = "ROUND_ROBIN";
    assert.throws(() => decodeEnvoyFilter(envoyFilter), /lb_polcy/);
  });
  test("a misspelled field in the TLS transport socket", () => {
    const envoyFilter = structuredClone(filters.get(undefined));
    assert.ok(envoyFilter);
    const patches = (
      envoyFilter.spec as { configPatches: Array<{ patch: { value: Record<string, unknown> } }> }
    ).configPatches;
    const value = patches[1]?.patch.value as {
      transport_socket: { typed_config: Record<string, unknown> };
    };
    value.transport_socket.typed_config.snii = "localhost";
    assert.throws(() => decodeEnvoyFilter(envoyFilter), /snii/);
  });
});

describe("every scenario's EnvoyFilter decodes with Envoy's protos", () => {
  for (const values of scenarios) {
    test(label(values), () => {
      const { extProc, cluster, filterName } = decoded(values);
      assert.match(filterName, /^envoy\.filters\.http\.ext_proc\./);
      const grpc = extProc.grpcService?.targetSpecifier;
      assert.equal(grpc?.case, "envoyGrpc");
      assert.equal(
        grpc.value.clusterName,
        cluster.name,
        "the filter must point at the chart's cluster",
      );
    });
  }
});

describe("default values reproduce Datadog's reference manifests", () => {
  test("the ext_proc filter", () => {
    const { extProc } = decoded(undefined);
    assert.deepEqual(
      extProc.grpcService?.initialMetadata.map(({ key, value }) => ({ key, value })),
      [{ key: "x-datadog-envoy-integration", value: "1" }],
    );
    assert.equal(extProc.failureModeAllow, true);
    assert.equal(extProc.processingMode?.requestHeaderMode, ProcessingMode_HeaderSendMode.SEND);
    assert.equal(extProc.processingMode?.responseHeaderMode, ProcessingMode_HeaderSendMode.SEND);
    assert.equal(extProc.allowModeOverride, true);
    assert.equal(extProc.observabilityMode, false);
    assert.deepEqual(
      { seconds: extProc.messageTimeout?.seconds, nanos: extProc.messageTimeout?.nanos },
      { seconds: 0n, nanos: 200_000_000 },
    );
    assert.equal(
      extProc.grpcService?.timeout,
      undefined,
      "grpc_service.timeout bounds the whole stream",
    );
  });
  test("the cluster", () => {
    const { cluster, upstreamTls } = decoded(undefined);
    assert.equal(cluster.clusterDiscoveryType.case, "type");
    assert.equal(cluster.clusterDiscoveryType.value, Cluster_DiscoveryType.STRICT_DNS);
    assert.equal(cluster.lbPolicy, Cluster_LbPolicy.ROUND_ROBIN);
    assert.ok(cluster.http2ProtocolOptions, "HTTP/2 is required for gRPC");
    assert.equal(upstreamTls?.sni, "localhost");
    const endpoint = cluster.loadAssignment?.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
    assert.equal(endpoint?.case, "endpoint");
    const address = endpoint.value.address?.address;
    assert.equal(address?.case, "socketAddress");
    assert.equal(address.value.address, `aap-aap-extproc.${NAMESPACE}.svc.cluster.local`);
    assert.deepEqual(address.value.portSpecifier, { case: "portValue", value: 443 });
    const thresholds = cluster.circuitBreakers?.thresholds[0];
    assert.ok(
      (thresholds?.maxRequests ?? 0) > 1024,
      "max_requests must exceed Envoy's 1024 default",
    );
  });
});

describe("one value drives each feature on both sides", () => {
  test("observability mode turns on Envoy's async mode with its deferred close timeout", () => {
    const { extProc } = decoded("ci/observability-values.yaml");
    assert.equal(extProc.observabilityMode, true);
    assert.equal(extProc.deferredCloseTimeout?.seconds, 10n);
  });
  test("a zero body limit drops allow_mode_override", () => {
    assert.equal(decoded("ci/observability-values.yaml").extProc.allowModeOverride, false);
    assert.equal(decoded("ci/body-inspection-values.yaml").extProc.allowModeOverride, true);
  });
  test("the body scenario's message timeout reaches Envoy", () => {
    const envoy = valuesOf("ci/body-inspection-values.yaml").envoyFilter as {
      messageTimeout: string;
    };
    const timeout = decoded("ci/body-inspection-values.yaml").extProc.messageTimeout;
    assert.equal(envoy.messageTimeout, "0.5s");
    assert.equal(timeout?.nanos, 500_000_000);
  });
  test("cert-manager scenario verifies the processor's certificate against the CA and SNI", () => {
    const { upstreamTls } = decoded("ci/cert-manager-values.yaml");
    const sni = `aap-waf.${NAMESPACE}.svc.cluster.local`;
    assert.equal(upstreamTls?.sni, sni);
    const validation = upstreamTls?.commonTlsContext?.validationContextType;
    assert.equal(validation?.case, "validationContext");
    const trustedCa = validation.value.trustedCa?.specifier;
    assert.equal(trustedCa?.case, "inlineString");
    assert.match(trustedCa.value, /^-----BEGIN CERTIFICATE-----/);
    const san = validation.value.matchTypedSubjectAltNames[0];
    assert.deepEqual(san?.matcher?.matchPattern, { case: "exact", value: sni });
  });
  test("gateway-api scenario reports the istio integration", () => {
    const metadata = decoded("ci/gateway-api-values.yaml").extProc.grpcService?.initialMetadata;
    assert.deepEqual(
      metadata?.map(({ key, value }) => ({ key, value })),
      [{ key: "x-datadog-istio-integration", value: "1" }],
    );
  });
  test("sidecar scenario sends the configured request attributes", () => {
    assert.deepEqual(decoded("ci/envoyfilter-sidecar-values.yaml").extProc.requestAttributes, [
      "source.address",
      "request.id",
      "xds.route_name",
    ]);
  });
});

describe("mutual TLS (tls.clientAuth)", () => {
  const MUTUAL = "ci/mutual-tls-values.yaml";
  const secretData = (obj: RenderedObject | undefined, key: string): string => {
    const data = (obj as { data?: Record<string, string> } | undefined)?.data ?? {};
    return Buffer.from(data[key] ?? "", "base64").toString();
  };
  const processorEnv = (objects: RenderedObject[]): Record<string, string | undefined> => {
    const deployment = objects.find((obj) => obj.kind === "Deployment") as
      | {
          spec: {
            template: {
              spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> };
            };
          };
        }
      | undefined;
    const env = deployment?.spec.template.spec.containers[0]?.env ?? [];
    return Object.fromEntries(env.map((entry) => [entry.name, entry.value]));
  };

  test("off by default: no client certificate in the cluster, no client CA for the processor", async () => {
    assert.equal(decoded(undefined).upstreamTls?.commonTlsContext, undefined);
    assert.equal(
      processorEnv(await render("helm4")).DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE,
      undefined,
    );
  });

  test("the cluster presents the client certificate istiod serves over SDS, and still verifies the processor", () => {
    const context = decoded(MUTUAL).upstreamTls?.commonTlsContext;
    const sds = context?.tlsCertificateSdsSecretConfigs;
    assert.equal(sds?.length, 1);
    assert.equal(sds?.[0]?.name, "kubernetes://aap-aap-extproc-client");
    assert.equal(sds?.[0]?.sdsConfig?.configSourceSpecifier.case, "ads");
    assert.equal(sds?.[0]?.sdsConfig?.resourceApiVersion, ApiVersion.V3);
    assert.equal(context?.validationContextType.case, "validationContext");
  });

  test("selfSigned: Envoy's client certificate is a Secret in the proxies' namespace, signed by the CA the processor checks clients against", async () => {
    const objects = await render("helm4", MUTUAL);
    const env = processorEnv(objects);
    assert.equal(env.DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE, "/etc/aap-extproc/tls/ca.crt");
    assert.equal(env.DD_SERVICE_EXTENSION_TLS_CERT_FILE, "/etc/aap-extproc/tls/tls.crt");
    const server = objects.find((obj) => obj.metadata.name === "aap-aap-extproc-tls");
    const client = objects.find((obj) => obj.metadata.name === "aap-aap-extproc-client");
    assert.equal(client?.metadata.namespace, "istio-system");
    const ca = new X509Certificate(secretData(server, "ca.crt"));
    const clientCert = new X509Certificate(secretData(client, "tls.crt"));
    assert.ok(clientCert.checkIssued(ca) && clientCert.verify(ca.publicKey));
    assert.ok(clientCert.keyUsage?.includes("1.3.6.1.5.5.7.3.2"), "client auth usage");
    const key = createPrivateKey(secretData(client, "tls.key"));
    assert.ok(
      createPublicKey(key).export({ format: "pem", type: "spki" }) ===
        clientCert.publicKey.export({ format: "pem", type: "spki" }),
      "the Secret's key matches its certificate",
    );
  });

  test("certManager: a client-auth Certificate from the same issuer, in the proxies' namespace", async () => {
    const objects = await render("helm4", "ci/cert-manager-values.yaml", undefined, {
      "tls.clientAuth.enabled": "true",
    });
    const certificates = objects.filter((obj) => obj.kind === "Certificate") as Array<
      RenderedObject & { spec: { usages: string[]; secretName: string; issuerRef: unknown } }
    >;
    const [server, client] = certificates;
    assert.equal(certificates.length, 2);
    assert.equal(client?.metadata.namespace, "istio-system");
    assert.deepEqual(client?.spec.usages, ["client auth", "digital signature"]);
    assert.equal(client?.spec.secretName, "aap-waf-client");
    assert.deepEqual(client?.spec.issuerRef, server?.spec.issuerRef);
    const envoyFilter = objects.find((obj) => obj.kind === "EnvoyFilter");
    assert.ok(envoyFilter);
    const sds =
      decodeEnvoyFilter(envoyFilter).upstreamTls?.commonTlsContext
        ?.tlsCertificateSdsSecretConfigs[0];
    assert.equal(sds?.name, "kubernetes://aap-waf-client");
  });

  test("existingSecret: the named client Secret is used and nothing is generated; without a name, rendering fails", async () => {
    const objects = await render("helm4", "ci/existing-secret-values.yaml", undefined, {
      "tls.clientAuth.enabled": "true",
      "tls.clientAuth.secretName": "envoy-client",
    });
    assert.equal(objects.filter((obj) => obj.kind === "Secret").length, 0);
    const envoyFilter = objects.find((obj) => obj.kind === "EnvoyFilter");
    assert.ok(envoyFilter);
    assert.equal(
      decodeEnvoyFilter(envoyFilter).upstreamTls?.commonTlsContext
        ?.tlsCertificateSdsSecretConfigs[0]?.name,
      "kubernetes://envoy-client",
    );
    await assert.rejects(
      render("helm4", "ci/existing-secret-values.yaml", undefined, {
        "tls.clientAuth.enabled": "true",
      }),
      /tls.clientAuth.secretName is required/,
    );
  });

  test("without TLS, rendering fails instead of dropping the client check", async () => {
    await assert.rejects(
      render("helm4", undefined, undefined, {
        "tls.enabled": "false",
        "tls.clientAuth.enabled": "true",
      }),
      /tls.clientAuth.enabled=true needs tls.enabled=true/,
    );
  });
});

test("every Helm renders the same patches", async () => {
  const [first, ...others] = await Promise.all(
    HELMS.map(async (helm) => (await render(helm)).find((obj) => obj.kind === "EnvoyFilter")),
  );
  for (const other of others) assert.deepEqual(other, first);
});
