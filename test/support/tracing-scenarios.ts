/**
 * Stream scenarios for the tracing tests: the request, the WAF runs and the end of one ext_proc
 * stream, as the pipeline would report them. Shared by the unit tests of the tag computation and
 * the child-process driver of the dd-trace component tests, so both check the same spans.
 * Events are shaped as libddwaf returns them; rule ids are the Go reference's test ruleset's.
 */
import {
  type HttpRequest,
  type HttpResponse,
  requestFromHeaders,
} from "../../processor/http/index.ts";
import type { SpanEnd, SpanStart } from "../../processor/tracing/index.ts";
import type { WafAction, WafRunResult } from "../../processor/waf/index.ts";

export const WAF_VERSION = "1.30.1";
export const RULES_VERSION = "1.18.0";

/** One stream as the tracer sees it. */
export interface TracingScenario {
  readonly start: SpanStart;
  readonly runs: readonly WafRunResult[];
  readonly end: SpanEnd;
}

export const SCENARIO_NAMES = [
  "benign",
  "monitored",
  "blocked-request-headers",
  "blocked-request-body",
  "blocked-response",
  "redirected",
  "observability",
  "cancelled",
  "waf-timeout",
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Benign requests that carry an upstream trace context (without and with the ASM trace source). */
export type ContextScenarioName = "upstream-context" | "upstream-asm";

/** The trace context of the `upstream-*` scenarios (docs/scenarios.md B36). */
export const UPSTREAM = { traceId: "12345", parentId: "67890" } as const;

/** Builds a request model from pseudo-headers and headers, as `extproc/` does. */
export function request(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  remoteAddress = "10.0.0.7:40112",
): HttpRequest {
  const entries = [
    { key: ":method", value: method },
    { key: ":path", value: path },
    { key: ":scheme", value: "https" },
    { key: ":authority", value: "datadoghq.com" },
    ...Object.entries(headers).map(([key, value]) => ({ key, value })),
  ];
  const result = requestFromHeaders(entries, { remoteAddress });
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

export function response(status: number, headers: Record<string, string[]> = {}): HttpResponse {
  return { status, headers };
}

/** A WAF run result; events and actions as given. */
export function run(fields: Partial<WafRunResult> = {}): WafRunResult {
  return {
    events: [],
    actions: [],
    timedOut: false,
    durationUs: 40,
    keep: false,
    attributes: {},
    ...fields,
  };
}

/** A libddwaf event for `ruleId` matching `address` with `value`. */
export function event(
  ruleId: string,
  type: string,
  address: string,
  value: string,
  securityResponseId?: string,
): unknown {
  const match = {
    operator: "match_regex",
    operator_value: value,
    parameters: [{ address, key_path: [], value, highlight: [value] }],
  };
  const ev: Record<string, unknown> = {
    rule: {
      id: ruleId,
      name: `rule ${ruleId}`,
      tags: { type, category: "attack_attempt" },
      on_match: securityResponseId === undefined ? [] : ["block"],
    },
    rule_matches: [match],
  };
  if (securityResponseId !== undefined) ev.security_response_id = securityResponseId;
  return ev;
}

const BLOCK_403: WafAction = {
  kind: "block",
  status: 403,
  type: "auto",
  securityResponseId: "b3a1c2d4-0000-4000-8000-000000000001",
};
const BLOCK_418: WafAction = {
  kind: "block",
  status: 418,
  type: "json",
  securityResponseId: "b3a1c2d4-0000-4000-8000-000000000002",
};
const REDIRECT_302: WafAction = {
  kind: "redirect",
  status: 302,
  location: "/blocked?id=[security_response_id]",
  securityResponseId: "b3a1c2d4-0000-4000-8000-000000000003",
};

const FINGERPRINTS = {
  "_dd.appsec.fp.http.endpoint": "http-get-1f4a2c0b-a2cd3ef1-",
  "_dd.appsec.fp.http.header": "hdr-0000000000-3626b5f8-3-4740ae63",
  "_dd.appsec.fp.http.network": "net-1-1000000000",
};

function end(fields: Partial<SpanEnd> & Pick<SpanEnd, "outcome">, runs: readonly WafRunResult[]) {
  const result: SpanEnd = {
    observabilityMode: false,
    wafVersion: WAF_VERSION,
    rulesVersion: RULES_VERSION,
    wafTimeouts: runs.filter((r) => r.timedOut).length,
    wafDurationUs: runs.reduce((sum, r) => sum + r.durationUs, 0),
    ...fields,
  };
  return result;
}

function scenario(
  start: SpanStart,
  runs: WafRunResult[],
  fields: Partial<SpanEnd> & Pick<SpanEnd, "outcome">,
): TracingScenario {
  return { start, runs, end: end(fields, runs) };
}

const integration = "envoy" as const;

/** The scenarios, by name; `marker` makes each request's path unique (e.g. per test run). */
export function scenarios(
  marker = "",
): Record<ScenarioName | ContextScenarioName, TracingScenario> {
  // `m=<marker>.<scenario>` makes each request unique per run and per scenario.
  const p = (path: string, name: string) =>
    marker === "" ? path : `${path}${path.includes("?") ? "&" : "?"}m=${marker}.${name}`;
  return {
    benign: scenario(
      {
        integration,
        request: request("GET", p("/api/users/123", "benign"), {
          "user-agent": "Mozilla/5.0",
          accept: "application/json",
          "x-forwarded-for": "18.18.18.18",
        }),
      },
      [run(), run({ durationUs: 12 })],
      {
        outcome: "complete",
        response: response(200, {
          "content-type": ["application/json"],
          "content-length": ["42"],
          "set-cookie": ["sid=secret"],
        }),
      },
    ),
    monitored: scenario(
      {
        integration: "istio",
        request: request("POST", p("/login?password=hunter2&user=bob", "monitored"), {
          "user-agent": "dd-test-scanner-log",
          "content-type": "application/json",
        }),
      },
      [
        run({
          events: [
            event(
              "ua0-600-55x",
              "attack_tool",
              "server.request.headers.no_cookies",
              "dd-test-scanner-log",
            ),
          ],
          keep: true,
          durationUs: 80,
          attributes: FINGERPRINTS,
        }),
        run({ durationUs: 20 }),
      ],
      { outcome: "complete", response: response(201, { "content-type": ["text/plain"] }) },
    ),
    "blocked-request-headers": scenario(
      {
        integration,
        request: request("GET", p("/", "blocked-request-headers"), {
          "user-agent": "dd-test-scanner-log-block",
        }),
      },
      [
        run({
          events: [
            event("custom-001", "custom", "server.request.uri.raw", "/"),
            event(
              "ua0-600-56x",
              "attack_tool",
              "server.request.headers.no_cookies",
              "dd-test-scanner-log-block",
              BLOCK_403.securityResponseId,
            ),
          ],
          actions: [BLOCK_403],
          keep: true,
          durationUs: 95,
        }),
      ],
      { outcome: "blocked", blockedBy: BLOCK_403 },
    ),
    "blocked-request-body": scenario(
      {
        integration,
        request: request("GET", p("/", "blocked-request-body"), {
          "user-agent": "curl/8.0",
          "content-type": "application/json",
        }),
      },
      [
        run({ events: [event("custom-001", "custom", "server.request.uri.raw", "/")], keep: true }),
        run({
          events: [
            event(
              "crs-933-130-block",
              "php_code_injection",
              "server.request.body",
              "$globals",
              BLOCK_403.securityResponseId,
            ),
          ],
          actions: [BLOCK_403],
          keep: true,
          durationUs: 120,
        }),
      ],
      { outcome: "blocked", blockedBy: BLOCK_403 },
    ),
    "blocked-response": scenario(
      {
        integration,
        request: request("OPTION", p("/", "blocked-response"), { "user-agent": "Chrome" }),
      },
      [
        run({
          attributes: { "_dd.appsec.s.req.headers": [{ "user-agent": [[[8]], { len: 1 }] }] },
        }),
        run({
          events: [
            event(
              "headers-003",
              "security_scanner",
              "server.response.headers.no_cookies",
              "match-response-header",
              BLOCK_418.securityResponseId,
            ),
          ],
          actions: [BLOCK_418],
          keep: true,
          attributes: { "_dd.appsec.s.res.headers": [{ test: [[[8]], { len: 1 }] }] },
        }),
      ],
      {
        outcome: "blocked",
        blockedBy: BLOCK_418,
        response: response(200, { test: ["match-response-header"] }),
      },
    ),
    redirected: scenario(
      {
        integration,
        request: request("GET", p("/admin", "redirected"), { "user-agent": "Mozilla/5.0" }),
      },
      [
        run({
          events: [
            event(
              "redirect-001",
              "custom",
              "server.request.uri.raw",
              "/admin",
              REDIRECT_302.securityResponseId,
            ),
          ],
          actions: [REDIRECT_302],
          keep: true,
        }),
      ],
      { outcome: "blocked", blockedBy: REDIRECT_302 },
    ),
    observability: scenario(
      {
        integration,
        request: request("GET", p("/", "observability"), {
          "user-agent": "dd-test-scanner-log-block",
        }),
      },
      [
        run({
          events: [
            event(
              "ua0-600-56x",
              "attack_tool",
              "server.request.headers.no_cookies",
              "dd-test-scanner-log-block",
              BLOCK_403.securityResponseId,
            ),
          ],
          actions: [BLOCK_403],
          keep: true,
        }),
        run(),
      ],
      {
        outcome: "complete",
        observabilityMode: true,
        wouldHaveBlocked: BLOCK_403,
        response: response(200, { "content-type": ["text/html"] }),
      },
    ),
    cancelled: scenario(
      {
        integration,
        request: request("GET", p("/../../../resource-span/.?id=test", "cancelled"), {
          "user-agent": "Mistake Not...",
        }),
      },
      [run({ events: [event("custom-001", "custom", "server.request.uri.raw", "/")], keep: true })],
      { outcome: "cancelled" },
    ),
    "upstream-context": scenario(
      {
        integration,
        request: request("GET", p("/downstream", "upstream-context"), {
          "user-agent": "Mozilla/5.0",
          "x-datadog-trace-id": UPSTREAM.traceId,
          "x-datadog-parent-id": UPSTREAM.parentId,
          "x-datadog-sampling-priority": "1",
        }),
      },
      [run()],
      { outcome: "complete", response: response(200) },
    ),
    "upstream-asm": scenario(
      {
        integration,
        request: request("GET", p("/downstream-asm", "upstream-asm"), {
          "user-agent": "Mozilla/5.0",
          "x-datadog-trace-id": UPSTREAM.traceId,
          "x-datadog-parent-id": UPSTREAM.parentId,
          "x-datadog-sampling-priority": "2",
          "x-datadog-tags": "_dd.p.dm=-5,_dd.p.ts=02",
        }),
      },
      [run()],
      { outcome: "complete", response: response(200) },
    ),
    "waf-timeout": scenario(
      {
        integration,
        request: request("PUT", p("/upload", "waf-timeout"), { "user-agent": "Mozilla/5.0" }),
      },
      [run({ timedOut: true, durationUs: 10_000 }), run({ timedOut: true, durationUs: 0 })],
      { outcome: "complete", response: response(503, { "content-type": ["text/plain"] }) },
    ),
  };
}
