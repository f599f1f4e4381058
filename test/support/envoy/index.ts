/**
 * A client that behaves as Envoy's ext_proc HTTP filter, configured by a decoded
 * `ExternalProcessor` (what the chart's EnvoyFilter renders), for end-to-end tests and the try-it
 * gateway. See docs/envoy-filter.md for each behaviour and test/envoy-client/ for the tests
 * that pin them.
 */
import type { ExternalProcessor } from "../../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/ext_proc_pb.ts";
import { type ClientOptions, createClient } from "../grpc-client.ts";
import { EnvoyFilter } from "./exchange.ts";
import { type EnvoyOptions, filterSettings } from "./settings.ts";

/** Where the processor is and how Envoy's cluster reaches it. */
export interface EnvoyFilterOptions extends EnvoyOptions {
  /** `host:port` or `unix:/path`. */
  target: string;
  /** TLS to the processor (the chart's UpstreamTlsContext); cleartext h2c when absent. */
  tls?: ClientOptions;
}

/** Creates a filter; call `close()` when done to close its HTTP/2 connection to the processor. */
export function createEnvoyFilter(
  config: ExternalProcessor,
  options: EnvoyFilterOptions,
): EnvoyFilter & { close(): void } {
  const client = createClient(options.target, options.tls ?? {});
  const filter = new EnvoyFilter(client, filterSettings(config, options));
  return Object.assign(filter, { close: () => client.close() });
}

export type {
  ExchangeResult,
  ForwardedRequest,
  HttpExchange,
  HttpRequest,
  Upstream,
  UpstreamResponse,
} from "./exchange.ts";
export { EnvoyFilter } from "./exchange.ts";
export type { HeaderList, HeadersInit } from "./headers.ts";
export { headerList, headerValue, headerValues } from "./headers.ts";
export type { Failure } from "./run.ts";
export type { BodyMode, EnvoyOptions, FilterSettings, Modes } from "./settings.ts";
export { filterSettings, modesFrom } from "./settings.ts";
export type { StreamEnd } from "./stream.ts";
