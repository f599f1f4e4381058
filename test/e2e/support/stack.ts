/**
 * One end-to-end stack: the real processor (child process, rendered env), the Envoy-behaving
 * client configured with the rendered filter, and an echo backend that records what reaches it.
 */
import type { ExternalProcessor } from "../../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/ext_proc_pb.ts";
import {
  createEnvoyFilter,
  type EnvoyFilter,
  type ExchangeResult,
  type ForwardedRequest,
  type HttpRequest,
  type UpstreamResponse,
} from "../../support/envoy/index.ts";
import { type ProcessorProcess, startProcessor } from "../../support/processor-process.ts";
import { type ChartScenario, clusterTls } from "./chart-scenario.ts";

/** A running processor plus a filter pointed at it. */
export interface Stack {
  readonly processor: ProcessorProcess;
  /** The filter as rendered. */
  readonly filter: EnvoyFilter;
  /** Requests that reached the backend. */
  readonly backendCalls: ForwardedRequest[];
  /** Sends `request` through `filter` (default: the rendered one) to the echo backend. */
  send(request: HttpRequest, filter?: EnvoyFilter): Promise<ExchangeResult>;
  /** Another filter against the same processor (e.g. the fail-closed rendering). */
  filterFor(config: ExternalProcessor): EnvoyFilter;
  stop(): Promise<void>;
}

const decoder = new TextDecoder();

/**
 * The echo backend. Paths drive response-side behaviour: `/status/<code>` answers that status,
 * `/response-header/<value>` sets header `test: <value>`, `/json-response/<value>` answers
 * `{"data":"<value>"}` as JSON; everything else echoes the request as JSON.
 */
export function echoBackend(request: ForwardedRequest): UpstreamResponse {
  const [, kind, value = ""] = /^\/([^/?]+)\/?([^?]*)/.exec(request.path) ?? [];
  const json = { "content-type": "application/json" };
  if (kind === "status") return { status: Number(value), headers: json, body: "{}" };
  if (kind === "response-header")
    return { status: 200, headers: { ...json, test: decodeURIComponent(value) }, body: "{}" };
  if (kind === "json-response") {
    return {
      status: 200,
      headers: json,
      body: JSON.stringify({ data: decodeURIComponent(value) }),
    };
  }
  const echo = {
    method: request.method,
    path: request.path,
    headers: Object.fromEntries(request.headers),
    bodyBytes: request.body.length,
    body: decoder.decode(request.body.subarray(0, 1024)),
  };
  return { status: 200, headers: json, body: JSON.stringify(echo) };
}

/** Starts the processor with `env` and a filter configured by the scenario's rendered config. */
export async function startStack(
  scenario: ChartScenario,
  env: Record<string, string>,
): Promise<Stack> {
  const processor = await startProcessor(env);
  const port = processor.grpcPort;
  if (port === undefined) throw new Error("the processor did not log its gRPC port");
  const tls = env.DD_SERVICE_EXTENSION_TLS === "true" ? clusterTls(scenario) : undefined;
  const filters: Array<EnvoyFilter & { close(): void }> = [];
  const filterFor = (config: ExternalProcessor) => {
    const filter = createEnvoyFilter(config, {
      target: `127.0.0.1:${port}`,
      ...(tls ? { tls } : {}),
    });
    filters.push(filter);
    return filter;
  };
  const filter = filterFor(scenario.extProc);
  const backendCalls: ForwardedRequest[] = [];
  return {
    processor,
    filter,
    backendCalls,
    filterFor,
    send: (request, through = filter) =>
      through.exchange({
        request,
        upstream: async (forwarded) => {
          backendCalls.push(forwarded);
          return echoBackend(forwarded);
        },
        responseChunkSize: 64 * 1024,
      }),
    async stop() {
      for (const f of filters) f.close();
      processor.kill("SIGKILL");
      await processor.exited;
    },
  };
}
