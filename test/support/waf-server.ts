/**
 * An in-process processor with the real libddwaf: the WAF inspector on the real gRPC server,
 * configured from environment-style variables like the real process.
 */
import { fileURLToPath } from "node:url";
import {
  type BodyBudget,
  createBodyBudget,
  createWafInspector,
} from "../../processor/inspector/index.ts";
import { createLogger } from "../../processor/log.ts";
import { createWafEngine, loadBlockTemplates } from "../../processor/waf/index.ts";
import { inspectorOptions } from "../../processor/wiring.ts";
import { testConfig } from "./config.ts";
import { type Client, createClient } from "./grpc-client.ts";
import { startTestServer, type TestServer, type TestServerOptions } from "./in-process.ts";
import { createRecordingTracer, type RecordedSpan } from "./recording-tracer.ts";

/** The test ruleset (test/fixtures/rules/README.md). */
export const TEST_RULES = fileURLToPath(
  new URL("../fixtures/rules/test-rules.json", import.meta.url),
);

/** A running WAF server and a client connected to it. */
export interface WafServer {
  readonly server: TestServer;
  readonly client: Client;
  /** `stream end` debug lines: one per finished stream. */
  streamEnds(): Array<Record<string, unknown>>;
  /** The shared body budget (bytes held across streams). */
  readonly bodyBudget: BodyBudget;
  /** Spans the recording tracer finished, in order. */
  readonly spans: RecordedSpan[];
  /** Empties the recorded logs and spans, so that a memory measurement sees the server alone. */
  forget(): void;
  close(): Promise<void>;
}

/**
 * Starts a WAF server with `env` (e.g. DD_APPSEC_RULES, DD_APPSEC_BODY_PARSING_SIZE_LIMIT) and
 * `serverOptions` for the gRPC server (idle timeout, load shedding, message limit).
 */
export async function startWafServer(
  env: Record<string, string> = {},
  serverOptions: Omit<TestServerOptions, "inspector"> = {},
): Promise<WafServer> {
  // A generous WAF budget unless a test sets one: these tests check what is detected, and the
  // default 10 ms per stream can run out on a loaded 2-core CI machine (a timeout fails open).
  const config = testConfig({ DD_APPSEC_WAF_TIMEOUT: "2s", ...env });
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger({
    level: "debug",
    sink: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  const engine = createWafEngine({ rulesPath: config.rulesPath, log });
  const templates = loadBlockTemplates({
    jsonPath: config.blockedTemplateJson,
    htmlPath: config.blockedTemplateHtml,
    log,
  });
  const bodyBudget = createBodyBudget(config.bodyMemoryLimitBytes);
  const tracer = createRecordingTracer({
    apmTracingEnabled: config.apmTracingEnabled,
    apiSecurityEnabled: config.apiSecurityEnabled,
    apiSecuritySampleDelayS: config.apiSecuritySampleDelayS,
    traceRateLimitPerS: config.traceRateLimitPerS,
    ...(config.clientIpHeader ? { clientIpHeader: config.clientIpHeader } : {}),
  });
  const server = await startTestServer({
    ...serverOptions,
    inspector: createWafInspector(inspectorOptions(config), {
      engine,
      templates,
      log,
      tracer,
      bodyBudget,
    }),
  });
  const client = createClient(server.target);
  return {
    server,
    client,
    streamEnds: () => logs.filter((line) => line.msg === "stream end"),
    spans: tracer.spans,
    bodyBudget,
    forget() {
      logs.length = 0;
      tracer.spans.length = 0;
      server.logs.length = 0;
    },
    async close() {
      client.close();
      await server.close();
      // Every stream has ended: a libddwaf context still open now was leaked by the pipeline.
      const open = engine.openContexts;
      engine.dispose();
      if (open !== 0) throw new Error(`${open} WAF context(s) leaked: never disposed`);
    },
  };
}
