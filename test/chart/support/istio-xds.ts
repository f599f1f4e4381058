/**
 * Runs `istio-xds` (tools/istio-xds: Istio's own xDS generation, offline) on the chart's
 * EnvoyFilter plus the minimal Istio objects a real mesh would have around the proxy: a Gateway
 * selecting the gateway pods, or a ServiceEntry whose endpoint is the sidecar's pod. What comes
 * back is what istiod would push to that proxy, so a patch that matches nothing or lands in the
 * wrong place shows up here, as it never does in the rendered YAML.
 */
import { stringify } from "yaml";
import { type RenderedObject, runTool } from "./helm.ts";

/** The proxy the configs are generated for, as its pod would describe itself to istiod. */
export interface ProxySpec {
  readonly kind: "gateway" | "sidecar";
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** ISTIO_VERSION of the proxy (what `match.proxy.proxyVersion` sees); default: the pinned one. */
  readonly istioVersion?: string;
}

/** A JSON object as istio-xds prints it (proto JSON, snake_case names). */
export type JsonObject = { readonly [key: string]: unknown };

/** What istio-xds prints. */
export interface XdsReport {
  /** The Istio release the tool runs (its pinned module's release line, patch 0). */
  readonly istioVersion: string;
  /** The pinned istio.io/istio module version. */
  readonly istioModule: string;
  readonly proxy: ProxySpec & { readonly istioVersion: string };
  /** Istio validation warnings about the input objects. */
  readonly warnings: readonly string[];
  readonly listeners: readonly JsonObject[];
  readonly clusters: readonly JsonObject[];
}

/** IP of the fixture pod: the sidecar's ServiceEntry endpoint points at it. */
const POD_IP = "10.0.0.10";
/** Where the fixture's RequestAuthentication fetches keys (never fetched: nothing runs Envoy). */
const JWKS_URI = "https://issuer.example/jwks.json";
/** A documentation range (RFC 5737): policies on it render Istio's filters, match no client. */
const DENIED = "192.0.2.0/24";
/** The external authorizer of the CUSTOM policy (never called: nothing runs Envoy). */
const EXT_AUTHZ_HOST = "ext-authz.fixture.example";

/** Ports of the sidecar fixture's service: two HTTP ones and a TCP one that must stay untouched. */
export const SIDECAR_PORTS = [
  { number: 8080, name: "http-web", protocol: "HTTP" },
  { number: 9090, name: "grpc-api", protocol: "GRPC" },
  { number: 5432, name: "tcp-db", protocol: "TCP" },
] as const;

/**
 * istiod's mesh config for the generation: the metrics provider of Istio's default install (so the
 * stats filter is rendered) and an external authorizer for the CUSTOM AuthorizationPolicy below.
 */
export const MESH_CONFIG = `
defaultProviders:
  metrics: [prometheus]
extensionProviders:
  - name: fixture-ext-authz
    envoyExtAuthzGrpc: { service: ${EXT_AUTHZ_HOST}, port: 9000 }
`;

/**
 * Istio objects around the proxy, plus policies on the same pods that make Istio render its own
 * authentication (RequestAuthentication: jwt_authn) and authorization (AuthorizationPolicy DENY:
 * rbac; CUSTOM: ext_authz) filters, whose position relative to ext_proc is part of what the tests
 * show. The policies match a documentation address range only, so they would deny nothing.
 */
export function fixturesFor(proxy: ProxySpec): RenderedObject[] {
  const metadata = (name: string) => ({ name, namespace: proxy.namespace });
  const selector = { matchLabels: { ...proxy.labels } };
  const fromDenied = [{ from: [{ source: { ipBlocks: [DENIED] } }] }];
  const policies: RenderedObject[] = [
    {
      apiVersion: "security.istio.io/v1",
      kind: "RequestAuthentication",
      metadata: metadata("fixture-jwt"),
      spec: { selector, jwtRules: [{ issuer: "https://issuer.example", jwksUri: JWKS_URI }] },
    },
    {
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: metadata("fixture-deny-range"),
      spec: { selector, action: "DENY", rules: fromDenied },
    },
    {
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: metadata("fixture-custom"),
      spec: {
        selector,
        action: "CUSTOM",
        provider: { name: "fixture-ext-authz" },
        rules: fromDenied,
      },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "ServiceEntry",
      metadata: metadata("fixture-ext-authz"),
      spec: {
        hosts: [EXT_AUTHZ_HOST],
        location: "MESH_EXTERNAL",
        resolution: "DNS",
        ports: [{ number: 9000, name: "grpc", protocol: "GRPC" }],
      },
    },
  ];
  if (proxy.kind === "gateway") return [gatewayFixture(proxy), ...policies];
  return [sidecarFixture(proxy), ...policies];
}

/** A Gateway on the gateway pods' labels: one plain HTTP server and one terminating TLS. */
function gatewayFixture(proxy: ProxySpec): RenderedObject {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: { name: "fixture-gateway", namespace: proxy.namespace },
    spec: {
      selector: { ...proxy.labels },
      servers: [
        { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] },
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: ["*"],
          tls: { mode: "SIMPLE", credentialName: "fixture-cert" },
        },
      ],
    },
  };
}

/** A mesh service whose only endpoint is the sidecar's pod (istiod finds the pod by its IP). */
function sidecarFixture(proxy: ProxySpec): RenderedObject {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: { name: "fixture-app", namespace: proxy.namespace },
    spec: {
      hosts: [`fixture-app.${proxy.namespace}.svc.cluster.local`],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      ports: SIDECAR_PORTS.map((port) => ({ ...port, targetPort: port.number })),
      endpoints: [{ address: POD_IP, labels: { ...proxy.labels } }],
    },
  };
}

/**
 * Generates the proxy's listeners and clusters for `objects` (the chart's EnvoyFilter and the
 * fixtures). Rejects when Istio's validation refuses an object.
 */
export async function generateXds(
  objects: readonly RenderedObject[],
  proxy: ProxySpec,
): Promise<XdsReport> {
  const yaml = objects.map((obj) => stringify(obj)).join("---\n");
  const labels = Object.entries(proxy.labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  const args = ["-proxy", proxy.kind, "-namespace", proxy.namespace, "-labels", labels];
  args.push("-ip", POD_IP, "-mesh-config", MESH_CONFIG);
  if (proxy.istioVersion !== undefined) args.push("-istio-version", proxy.istioVersion);
  const stdout = await runTool("istio-xds", args, yaml);
  return JSON.parse(stdout) as XdsReport;
}

/**
 * Istio's validation warns about every EnvoyFilter ("exposes internal implementation details");
 * any other warning is about what the chart rendered.
 */
export function chartWarnings(report: XdsReport): string[] {
  return report.warnings.filter(
    (warning) => !/EnvoyFilter exposes internal implementation/.test(warning),
  );
}

/** The Istio release the pinned istio-xds runs, e.g. `1.31.0`. */
export async function pinnedIstioVersion(): Promise<string> {
  return (await runTool("istio-xds", ["-version"])).trim();
}
