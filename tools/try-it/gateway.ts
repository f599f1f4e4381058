/**
 * The try-it gateway: the real processor behind an HTTP front that plays Envoy. Each request
 * becomes one ext_proc exchange through the Envoy-behaving client (test/support/envoy), configured
 * like the chart's default filter, and allowed requests go to the echo backend or a given URL.
 * A tool for trying rules and the product locally; not a production proxy.
 */
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import {
  type ExternalProcessor,
  ExternalProcessorSchema,
} from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/ext_proc_pb.ts";
import { ProcessingMode_HeaderSendMode } from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import {
  createEnvoyFilter,
  type ExchangeResult,
  type Upstream,
} from "../../test/support/envoy/index.ts";
import { writeBlockAllRuleset } from "./block-all.ts";
import { type FrontRequest, type FrontResponse, startFront } from "./front.ts";
import { startDemoProcessor } from "./processor.ts";
import { echoUpstream, proxyUpstream } from "./upstream.ts";
import { type StreamVerdict, VerdictLog } from "./verdicts.ts";

/**
 * The chart's default ext_proc filter (chart/templates/envoyfilter.yaml with default values):
 * headers both ways, bodies on request of the processor through mode_override, fail-open, 200 ms.
 * test/e2e/demo.test.ts checks it against `helm template`.
 */
export const DEMO_FILTER_CONFIG: ExternalProcessor = create(ExternalProcessorSchema, {
  grpcService: {
    targetSpecifier: { case: "envoyGrpc", value: { clusterName: "aap-extproc" } },
    initialMetadata: [{ key: "x-datadog-envoy-integration", value: "1" }],
  },
  failureModeAllow: true,
  processingMode: {
    requestHeaderMode: ProcessingMode_HeaderSendMode.SEND,
    responseHeaderMode: ProcessingMode_HeaderSendMode.SEND,
  },
  allowModeOverride: true,
  messageTimeout: create(DurationSchema, { seconds: 0n, nanos: 200_000_000 }),
});

/** Gateway options. */
export interface GatewayOptions {
  /** Listening port on 127.0.0.1 (0: ephemeral). */
  port: number;
  /** Proxy allowed requests here instead of the echo backend. */
  upstreamUrl?: string;
  /** Make every detection of the recommended ruleset block. */
  blockAll?: boolean;
  /** gRPC over TLS to the processor (its self-generated certificate). */
  tls?: boolean;
  /** Extra processor environment (e.g. DD_APPSEC_RULES). */
  processorEnv?: Record<string, string>;
  /** Receives one entry per request (default: a JSON line on stdout). */
  log?: (entry: RequestLogEntry) => void;
}

/** The per-request log entry. */
export interface RequestLogEntry {
  time: string;
  method: string;
  path: string;
  protocol: "1.1" | "2";
  status: number;
  /** `blocked`, `flagged` (detected, not blocked), `clean`, `failed-open` or `error`. */
  verdict: "blocked" | "flagged" | "clean" | "failed-open" | "error";
  rules: string[];
  reachedBackend: boolean;
  ms: number;
}

/** A running gateway. */
export interface Gateway {
  readonly port: number;
  readonly url: string;
  readonly rulesFile: string | undefined;
  close(): Promise<void>;
}

function verdictOf(
  result: ExchangeResult,
  stream: StreamVerdict | undefined,
): RequestLogEntry["verdict"] {
  if (result.localReply === "immediate" || result.reset || stream?.blocked) return "blocked";
  if (result.localReply === "failure") return "error";
  if (result.failedOpen) return "failed-open";
  return (stream?.rules.length ?? 0) > 0 ? "flagged" : "clean";
}

/** Starts the processor and the front. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const verdicts = new VerdictLog();
  const rulesFile = options.blockAll ? writeBlockAllRuleset() : undefined;
  const processor = await startDemoProcessor(
    {
      DD_SERVICE_EXTENSION_LOG_LEVEL: "debug",
      DD_SERVICE_EXTENSION_TLS: options.tls ? "true" : "false",
      // Absent files: the processor generates its own self-signed certificate.
      DD_SERVICE_EXTENSION_TLS_CERT_FILE: "/nonexistent/aap-demo/tls.crt",
      DD_SERVICE_EXTENSION_TLS_KEY_FILE: "/nonexistent/aap-demo/tls.key",
      ...options.processorEnv,
      ...(rulesFile ? { DD_APPSEC_RULES: rulesFile } : {}),
    },
    (line) => verdicts.onLogLine(line),
  );
  const filter = createEnvoyFilter(DEMO_FILTER_CONFIG, {
    target: processor.target,
    ...(options.tls ? { tls: { serverName: "localhost", insecureSkipVerify: true } } : {}),
  });
  const upstream: Upstream = options.upstreamUrl
    ? proxyUpstream(options.upstreamUrl)
    : echoUpstream;
  const log =
    options.log ?? ((entry: RequestLogEntry) => process.stdout.write(`${JSON.stringify(entry)}\n`));

  const handle = async (request: FrontRequest): Promise<FrontResponse> => {
    const started = performance.now();
    const result = await filter.exchange({
      request: {
        method: request.method,
        path: request.path,
        authority: request.authority,
        headers: request.headers,
        body: request.body,
      },
      upstream,
    });
    // Claims must follow stream-end order (verdicts.ts), so chain them on the stream end.
    void result.streamEnd
      .then(() => verdicts.claim())
      .then((stream) =>
        log({
          time: new Date().toISOString(),
          method: request.method,
          path: request.path,
          protocol: request.protocol,
          status: result.status,
          verdict: verdictOf(result, stream),
          rules: stream?.rules ?? [],
          reachedBackend: result.reachedUpstream,
          ms: Math.round(performance.now() - started),
        }),
      );
    return {
      status: result.status,
      headers: result.headers,
      body: result.body,
      reset: result.reset,
    };
  };

  const front = await startFront(options.port, handle);
  return {
    port: front.port,
    url: `http://127.0.0.1:${front.port}`,
    rulesFile,
    async close() {
      await new Promise<void>((resolve) => front.server.close(() => resolve()));
      filter.close();
      await processor.stop();
      if (rulesFile) rmSync(dirname(rulesFile), { recursive: true, force: true });
    },
  };
}
