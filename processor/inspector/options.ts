/** The inspector's settings and collaborators, built once in `main` from the configuration. */
import type { Logger } from "../log.ts";
import type { InspectionMetrics } from "../metrics/index.ts";
import type { ExchangeTracer } from "../tracing/index.ts";
import type { BlockTemplates, WafEngine } from "../waf/index.ts";
import type { BodyBudget } from "./body-budget.ts";
import type { BodyMode } from "./verdict.ts";

/** What the inspector reads of the configuration. */
export interface InspectorOptions {
  /** Bytes of each body analysed (`DD_APPSEC_BODY_PARSING_SIZE_LIMIT`); 0 turns bodies off. */
  readonly bodyLimitBytes: number;
  /** How response bodies are asked for (request bodies are always streamed). */
  readonly responseBodyMode: BodyMode;
  /** WAF time budget of a whole exchange, in microseconds (`DD_APPSEC_WAF_TIMEOUT`). */
  readonly wafBudgetUs: number;
  /** Never block (`DD_SERVICE_EXTENSION_OBSERVABILITY_MODE`). */
  readonly observabilityMode: boolean;
  /** API Security schema sampling (`DD_API_SECURITY_ENABLED`). */
  readonly apiSecurityEnabled: boolean;
  /** The only client-IP header to trust (`DD_TRACE_CLIENT_IP_HEADER`), if set. */
  readonly clientIpHeader: string | undefined;
}

/** What the inspector works with, created at startup and shared by every exchange. */
export interface InspectorDeps {
  readonly engine: WafEngine;
  readonly templates: BlockTemplates;
  /** One span per exchange, started at the request headers. */
  readonly tracer: ExchangeTracer;
  /** Process-wide bound on buffered body bytes. */
  readonly bodyBudget: BodyBudget;
  readonly log: Logger;
  /** WAF runs, rule matches and bodies are counted here. */
  readonly metrics?: InspectionMetrics | undefined;
}
