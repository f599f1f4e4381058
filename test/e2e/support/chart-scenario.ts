/**
 * What `helm template` renders for one chart scenario, turned into what an end-to-end test needs:
 * the decoded ext_proc filter config (through the chart tests' decoder) and the processor's
 * environment from the rendered Deployment, adapted to run on this machine.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import type { ExternalProcessor } from "../../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/ext_proc_pb.ts";
import { type DecodedEnvoyFilter, decodeEnvoyFilter } from "../../chart/support/envoy-config.ts";
import { CHART_DIR, type RenderedObject, render } from "../../chart/support/helm.ts";
import type { EnvoyFilterOptions } from "../../support/envoy/index.ts";

/** A rendered scenario. */
export interface ChartScenario {
  /** Values file relative to the chart (`ci/...-values.yaml`). */
  readonly valuesFile: string;
  readonly decoded: DecodedEnvoyFilter;
  /** The filter config Envoy would get. */
  readonly extProc: ExternalProcessor;
  /** The processor container's env as rendered (`valueFrom` entries left out). */
  readonly env: Readonly<Record<string, string>>;
  /** Names of env entries rendered with `valueFrom` (filled by Kubernetes, absent here). */
  readonly envFromCluster: readonly string[];
  /** Every rendered object (the TLS Secrets among them). */
  readonly objects: readonly RenderedObject[];
}

interface Container {
  name: string;
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
}

function processorContainer(objects: RenderedObject[]): Container {
  const deployment = objects.find((obj) => obj.kind === "Deployment");
  if (deployment === undefined) throw new Error("no Deployment rendered");
  const spec = deployment.spec as { template: { spec: { containers: Container[] } } };
  const container = spec.template.spec.containers.find((c) => c.name === "processor");
  if (container === undefined) throw new Error("no processor container in the Deployment");
  return container;
}

/**
 * Renders `valuesFile` with Helm 3. `overrides` are merged over the file's values (a temporary
 * values file, as `--set` would do), e.g. `{ envoyFilter: { failOpen: false } }`.
 */
export async function renderScenario(
  valuesFile: string,
  overrides?: Record<string, unknown>,
): Promise<ChartScenario> {
  let file = valuesFile;
  let dir: string | undefined;
  if (overrides !== undefined) {
    const values = (parse(readFileSync(join(CHART_DIR, valuesFile), "utf8")) ?? {}) as Record<
      string,
      unknown
    >;
    dir = mkdtempSync(join(tmpdir(), "aap-e2e-values-"));
    file = join(dir, "values.yaml");
    writeFileSync(file, stringify(deepMerge(values, overrides)));
  }
  const objects = await render("helm3", file).finally(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  const envoyFilter = objects.find((obj) => obj.kind === "EnvoyFilter");
  if (envoyFilter === undefined) throw new Error(`${valuesFile} rendered no EnvoyFilter`);
  const decoded = decodeEnvoyFilter(envoyFilter);
  const env: Record<string, string> = {};
  const envFromCluster: string[] = [];
  for (const entry of processorContainer(objects).env ?? []) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else envFromCluster.push(entry.name);
  }
  return { valuesFile, decoded, extProc: decoded.extProc, env, envFromCluster, objects };
}

function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isObject(current) && isObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What changes so the rendered processor runs here; everything else stays as rendered. */
export interface LocalOverrides {
  /** Port of the fake Agent (the rendered Agent address is a cluster node's). */
  agentPort: number;
  /** DD_APPSEC_RULES; the rendered value is kept unless it points into a mounted volume. */
  rules?: string;
  /** Files standing in for volumes the chart mounts (`/etc/...` path → local path). */
  mounts?: Readonly<Record<string, string>>;
  /** Extra variables (e.g. the log level). */
  extra?: Readonly<Record<string, string>>;
  /**
   * A directory for the rendered TLS Secret's files, used with mutual TLS: the processor then
   * serves the chart's certificate and checks clients against the chart's CA.
   */
  tlsDir?: string;
}

/** The PEM files of a rendered Secret, by key (`tls.crt`, `tls.key`, `ca.crt`). */
export function secretFiles(scenario: ChartScenario, name: string): Record<string, string> {
  const secret = scenario.objects.find(
    (obj) => obj.kind === "Secret" && obj.metadata.name === name,
  );
  if (secret === undefined) throw new Error(`${scenario.valuesFile} rendered no Secret ${name}`);
  const data = (secret as { data?: Record<string, string> }).data ?? {};
  return Object.fromEntries(
    Object.entries(data).map(([key, value]) => [key, Buffer.from(value, "base64").toString()]),
  );
}

/** The Secret the processor's TLS volume mounts (the Deployment's `tls` volume). */
function tlsSecretName(scenario: ChartScenario): string {
  const deployment = scenario.objects.find((obj) => obj.kind === "Deployment");
  const volumes =
    (deployment?.spec as { template: { spec: { volumes?: Array<Record<string, unknown>> } } })
      ?.template.spec.volumes ?? [];
  const secret = volumes.find((volume) => volume.name === "tls")?.secret as
    | { secretName: string }
    | undefined;
  if (secret === undefined) throw new Error(`${scenario.valuesFile} mounts no TLS Secret`);
  return secret.secretName;
}

/**
 * The rendered env with only what cannot work outside the cluster replaced: ports become ephemeral
 * on 127.0.0.1, the TLS files point nowhere (so the processor makes its own self-signed certificate,
 * as it does when the Secret is not mounted yet), the Agent is the fake one, and mounted files map
 * to local stand-ins.
 */
export function localEnv(
  scenario: ChartScenario,
  overrides: LocalOverrides,
): Record<string, string> {
  const env: Record<string, string> = { ...scenario.env };
  const missing = join(tmpdir(), "aap-e2e-no-such-dir");
  env.DD_SERVICE_EXTENSION_HOST = "127.0.0.1";
  env.DD_SERVICE_EXTENSION_PORT = "0";
  env.DD_SERVICE_EXTENSION_HEALTHCHECK_PORT = "0";
  if (env.DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE) {
    // Mutual TLS needs the chart's CA on both sides: serve the rendered Secret's files.
    if (overrides.tlsDir === undefined) throw new Error("mutual TLS scenarios need a tlsDir");
    const files = secretFiles(scenario, tlsSecretName(scenario));
    for (const [key, pem] of Object.entries(files)) writeFileSync(join(overrides.tlsDir, key), pem);
    env.DD_SERVICE_EXTENSION_TLS_CERT_FILE = join(overrides.tlsDir, "tls.crt");
    env.DD_SERVICE_EXTENSION_TLS_KEY_FILE = join(overrides.tlsDir, "tls.key");
    env.DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE = join(overrides.tlsDir, "ca.crt");
  } else {
    if (env.DD_SERVICE_EXTENSION_TLS_CERT_FILE)
      env.DD_SERVICE_EXTENSION_TLS_CERT_FILE = join(missing, "tls.crt");
    if (env.DD_SERVICE_EXTENSION_TLS_KEY_FILE)
      env.DD_SERVICE_EXTENSION_TLS_KEY_FILE = join(missing, "tls.key");
  }
  env.DD_AGENT_HOST = "127.0.0.1";
  env.DD_TRACE_AGENT_PORT = String(overrides.agentPort);
  for (const [name, value] of Object.entries(env)) {
    const local = overrides.mounts?.[value];
    if (local !== undefined) env[name] = local;
  }
  if (overrides.rules !== undefined) env.DD_APPSEC_RULES = overrides.rules;
  return { ...env, ...overrides.extra };
}

/** How Envoy's cluster reaches the processor, from the rendered CLUSTER patch. */
export function clusterTls(scenario: ChartScenario): EnvoyFilterOptions["tls"] {
  const tls = scenario.decoded.upstreamTls;
  if (tls === undefined) return undefined;
  const sds = tls.commonTlsContext?.tlsCertificateSdsSecretConfigs[0]?.name;
  if (sds !== undefined) {
    // Mutual TLS: the client certificate istiod would hand Envoy over SDS (`kubernetes://<Secret>`),
    // and the chart's CA, which the processor's certificate (served from the Secret) chains to.
    const client = secretFiles(scenario, sds.replace(/^kubernetes:\/\//, ""));
    const server = secretFiles(scenario, tlsSecretName(scenario));
    return {
      serverName: tls.sni || "localhost",
      ...(server["ca.crt"] ? { ca: server["ca.crt"] } : {}),
      clientCertificate: { cert: client["tls.crt"] ?? "", key: client["tls.key"] ?? "" },
    };
  }
  // The processor runs with its own self-signed certificate here, so a rendered CA (cert-manager)
  // cannot verify it: the SNI is kept, verification is not.
  return { serverName: tls.sni || "localhost", insecureSkipVerify: true };
}
