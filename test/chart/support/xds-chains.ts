/**
 * Reads the HTTP filter chains out of the listeners istio-xds generated, and states the rules an
 * ext_proc filter placed by the chart must satisfy in them. The rules come back as a list of
 * problems (empty: all good) so a test can assert both that the chart passes and that a broken
 * EnvoyFilter fails.
 */
import type { JsonObject, XdsReport } from "./istio-xds.ts";

/** Envoy's terminal HTTP filter: it must be the last filter of every chain. */
export const ROUTER = "envoy.filters.http.router";
const HCM = "envoy.filters.network.http_connection_manager";

/** The patch contexts the chart renders. */
export type PatchContext = "GATEWAY" | "SIDECAR_INBOUND";

/** One HTTP connection manager of a generated listener, with its HTTP filters in order. */
export interface HttpChain {
  /** `listener/filter chain`, for messages. */
  readonly id: string;
  /** The listener's traffic direction: INBOUND for a sidecar's virtualInbound, else OUTBOUND. */
  readonly direction: string;
  readonly filters: ReadonlyArray<{ readonly name: string; readonly typed_config?: JsonObject }>;
}

type FilterChain = { name?: string; filters?: Array<{ name: string; typed_config?: JsonObject }> };

/** Every HTTP connection manager in the report's listeners. */
export function httpChains(report: XdsReport): HttpChain[] {
  return report.listeners.flatMap((listener) => {
    const name = String(listener.name);
    const direction = String(listener.traffic_direction ?? "UNSPECIFIED");
    const chains = [
      ...((listener.filter_chains as FilterChain[] | undefined) ?? []),
      ...(listener.default_filter_chain ? [listener.default_filter_chain as FilterChain] : []),
    ];
    return chains.flatMap((chain, index) =>
      (chain.filters ?? [])
        .filter((filter) => filter.name === HCM)
        .map((filter) => ({
          id: `${name}/${chain.name ?? `#${index}`}`,
          direction,
          filters: (filter.typed_config?.http_filters as HttpChain["filters"] | undefined) ?? [],
        })),
    );
  });
}

/**
 * The chains a patch context covers. For a gateway that is every listener; for a sidecar,
 * SIDECAR_INBOUND is the inbound listener (traffic to the pod), the rest is outbound.
 */
export function chainsIn(report: XdsReport, context: PatchContext): HttpChain[] {
  return httpChains(report).filter((chain) => inContext(report, chain, context));
}

function inContext(report: XdsReport, chain: HttpChain, context: PatchContext): boolean {
  if (context === "GATEWAY") return report.proxy.kind === "gateway";
  return report.proxy.kind === "sidecar" && chain.direction === "INBOUND";
}

/** Filter names of a chain, in order. */
export const names = (chain: HttpChain): string[] => chain.filters.map((filter) => filter.name);

/**
 * What is wrong with the ext_proc filter `filterName` in the targeted chains: each must hold it
 * exactly once, before the router, with the router last; there must be at least one such chain,
 * and the chains outside the context must not hold it.
 */
export function placementProblems(
  report: XdsReport,
  context: PatchContext,
  filterName: string,
): string[] {
  const all = httpChains(report);
  const targeted = all.filter((chain) => inContext(report, chain, context));
  const problems: string[] = [];
  if (targeted.length === 0) problems.push(`no HTTP chain in context ${context}`);
  for (const chain of targeted) {
    const order = names(chain);
    const count = order.filter((name) => name === filterName).length;
    if (count !== 1) problems.push(`${chain.id}: ${filterName} appears ${count} times`);
    if (order.at(-1) !== ROUTER) problems.push(`${chain.id}: the router is not last`);
    if (count === 1 && order.indexOf(filterName) > order.indexOf(ROUTER)) {
      problems.push(`${chain.id}: ${filterName} comes after the router`);
    }
  }
  for (const chain of all.filter((chain) => !targeted.includes(chain))) {
    if (names(chain).includes(filterName)) problems.push(`${chain.id}: outside ${context}`);
  }
  return problems;
}

/** The generated ext_proc filters of the targeted chains (one per chain where present). */
export function generatedFilters(
  report: XdsReport,
  context: PatchContext,
  filterName: string,
): JsonObject[] {
  return chainsIn(report, context).flatMap((chain) =>
    chain.filters
      .filter((filter) => filter.name === filterName)
      .map((filter) => filter.typed_config ?? {}),
  );
}

/** The generated cluster named `name`, if istiod pushes it. */
export function generatedCluster(report: XdsReport, name: string): JsonObject | undefined {
  return report.clusters.find((cluster) => cluster.name === name);
}
