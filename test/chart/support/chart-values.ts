/**
 * The chart's values as Helm sees them for a scenario (values.yaml merged with a chart/ci file),
 * and the proxy those values describe: the pods a user means to protect, derived from the values
 * alone so that a fixture never just copies what the EnvoyFilter selects.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { CHART_DIR, NAMESPACE } from "./helm.ts";
import type { ProxySpec } from "./istio-xds.ts";
import type { PatchContext } from "./xds-chains.ts";

/** The envoyFilter values the proxy depends on. */
export interface EnvoyFilterValues {
  readonly mode: "gateway" | "sidecar";
  readonly namespace: string;
  readonly gateway: { readonly selector: Record<string, string>; readonly gatewayName: string };
  readonly sidecar: { readonly selector: Record<string, string> };
  readonly placement: string;
  readonly proxyVersion: string;
}

type Values = { readonly [key: string]: unknown };

const isMap = (value: unknown): value is Values =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Helm's merge: maps merge key by key, anything else in `over` replaces `base`. */
function merge(base: Values, over: Values): Values {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isMap(current) && isMap(value) ? merge(current, value) : value;
  }
  return out;
}

const readValues = (file: string): Values =>
  (parse(readFileSync(join(CHART_DIR, file), "utf8")) as Values | null) ?? {};

/** `envoyFilter` of values.yaml merged with a scenario file (relative to the chart). */
export function envoyFilterValues(valuesFile?: string): EnvoyFilterValues {
  const defaults = readValues("values.yaml");
  const merged = valuesFile === undefined ? defaults : merge(defaults, readValues(valuesFile));
  return merged.envoyFilter as EnvoyFilterValues;
}

/** The patch context the values ask for. */
export const contextOf = (ef: EnvoyFilterValues): PatchContext =>
  ef.mode === "sidecar" ? "SIDECAR_INBOUND" : "GATEWAY";

/**
 * The proxy the values describe. A gateway named by `gatewayName` is a Gateway API deployment,
 * whose pods Istio labels `gateway.networking.k8s.io/gateway-name`; a classic gateway's pods carry
 * `gateway.selector`; an application's pods carry `sidecar.selector`. The namespace defaults as
 * values.yaml documents it.
 */
export function proxyFor(ef: EnvoyFilterValues, istioVersion?: string): ProxySpec {
  const version = istioVersion === undefined ? {} : { istioVersion };
  if (ef.mode === "sidecar") {
    return {
      kind: "sidecar",
      namespace: ef.namespace || NAMESPACE,
      labels: ef.sidecar.selector,
      ...version,
    };
  }
  const labels = ef.gateway.gatewayName
    ? { "gateway.networking.k8s.io/gateway-name": ef.gateway.gatewayName }
    : ef.gateway.selector;
  return { kind: "gateway", namespace: ef.namespace || "istio-system", labels, ...version };
}
