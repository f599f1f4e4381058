/**
 * The inspector alone: no libddwaf, no gRPC. A scripted WAF decides from the addresses it is fed;
 * each case drives one exchange through the neutral interface and checks the verdicts, what the
 * WAF saw, and how the span and the body budget ended.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  FAKE_TEMPLATES,
  type FakeWafOptions,
  fakeTracer,
  fakeWaf,
  type WafScript,
} from "../../test/support/fake-waf.ts";
import { isProtocolError } from "../errors.ts";
import { silentLogger } from "../log.ts";
import type { InspectionMetrics } from "../metrics/index.ts";
import { ADDRESSES } from "../waf/index.ts";
import { createBodyBudget } from "./body-budget.ts";
import { createWafInspector, PASS_THROUGH_INSPECTOR } from "./inspector.ts";
import type { InspectorOptions } from "./options.ts";
import type { ExchangeInfo, HeadersMessage, Inspection, InspectionResult } from "./types.ts";

const OPTIONS: InspectorOptions = {
  bodyLimitBytes: 64,
  responseBodyMode: "streamed",
  wafBudgetUs: 10_000,
  observabilityMode: false,
  apiSecurityEnabled: false,
  clientIpHeader: undefined,
};

const INFO: ExchangeInfo = {
  integration: "envoy",
  remoteAddress: "10.0.0.9:5000",
  observabilityMode: false,
};

const BLOCK = { kind: "block", status: 403, type: "json", securityResponseId: "id-1" } as const;
const REDIRECT = { kind: "redirect", status: 302, location: "/blocked" } as const;

interface Setup {
  readonly metrics?: InspectionMetrics;
  readonly script?: WafScript;
  readonly waf?: FakeWafOptions;
  readonly options?: Partial<InspectorOptions>;
  readonly info?: Partial<ExchangeInfo>;
  readonly sampleSchema?: boolean;
  readonly budgetBytes?: number;
}

function setup(s: Setup = {}) {
  const waf = fakeWaf(s.script, s.waf);
  const tracer = fakeTracer(s.sampleSchema);
  const bodyBudget = createBodyBudget(s.budgetBytes ?? 1 << 20);
  const inspector = createWafInspector(
    { ...OPTIONS, ...s.options },
    {
      engine: waf.engine,
      templates: FAKE_TEMPLATES,
      tracer,
      bodyBudget,
      log: silentLogger,
      metrics: s.metrics,
    },
  );
  const inspection = inspector.open({ ...INFO, ...s.info });
  return { waf, tracer, bodyBudget, inspection };
}

function headers(pairs: Record<string, string>, endOfStream = false): HeadersMessage {
  return {
    headers: Object.entries(pairs).map(([key, value]) => ({ key, value })),
    endOfStream,
  };
}

const GET = { ":method": "GET", ":path": "/a?q=1", ":authority": "shop", ":scheme": "https" };
const POST_JSON = { ...GET, ":method": "POST", "content-type": "application/json" };
const OK_JSON = { ":status": "200", "content-type": "application/json" };
const chunk = (text: string, endOfStream = false) => ({
  bytes: new TextEncoder().encode(text),
  endOfStream,
});

/** A script that blocks when a fed body contains `attack`. */
const blockBodies: WafScript = (addresses) =>
  JSON.stringify(addresses[ADDRESSES.REQUEST_BODY] ?? addresses[ADDRESSES.RESPONSE_BODY] ?? "")
    .toLowerCase()
    .includes("attack")
    ? { action: BLOCK }
    : undefined;

async function kindOf(result: InspectionResult): Promise<string> {
  const value = await result;
  if (isProtocolError(value)) return `error:${value.code}`;
  if (value.kind === "immediate") return `immediate:${value.status}`;
  const extras = [value.bodyMode, value.close ? "close" : undefined].filter(Boolean);
  return ["continue", ...extras].join(":");
}

describe("request headers", () => {
  const cases: Array<{ name: string; setup?: Setup; request: HeadersMessage; want: string }> = [
    { name: "benign GET without a body", request: headers(GET, true), want: "continue" },
    {
      name: "a blocking action answers a block page",
      setup: { script: () => ({ action: BLOCK }) },
      request: headers(GET, true),
      want: "immediate:403",
    },
    {
      name: "a redirect action answers the redirect",
      setup: { script: () => ({ action: REDIRECT }) },
      request: headers(GET, true),
      want: "immediate:302",
    },
    {
      name: "observability mode never blocks",
      setup: { script: () => ({ action: BLOCK }), options: { observabilityMode: true } },
      request: headers(GET, true),
      want: "continue",
    },
    {
      name: "the proxy's observability flag never blocks",
      setup: { script: () => ({ action: BLOCK }), info: { observabilityMode: true } },
      request: headers(GET, true),
      want: "continue",
    },
    {
      name: "a JSON body to come is asked for, streamed",
      request: headers(POST_JSON),
      want: "continue:streamed",
    },
    {
      name: "no body asked for when body inspection is off",
      setup: { options: { bodyLimitBytes: 0 } },
      request: headers(POST_JSON),
      want: "continue",
    },
    {
      name: "no body asked for an upgrade",
      request: headers({ ...POST_JSON, upgrade: "websocket", connection: "upgrade" }),
      want: "continue",
    },
    {
      name: "no body asked for an image",
      request: headers({ ...POST_JSON, "content-type": "image/png" }),
      want: "continue",
    },
    {
      name: "missing :path is a protocol error",
      request: headers({ ":method": "GET" }),
      want: "error:invalid-request-headers",
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { inspection } = setup(c.setup);
      assert.equal(await kindOf(inspection.requestHeaders(c.request)), c.want);
    });
  }

  test("feeds method, raw URI, headers, query, cookies and the client IP", () => {
    const { inspection, waf } = setup();
    inspection.requestHeaders(
      headers({ ...GET, cookie: "s=1", "x-forwarded-for": "203.0.113.5", accept: "a/b" }, true),
    );
    const fed = waf.runs[0] ?? {};
    assert.equal(fed[ADDRESSES.REQUEST_METHOD], "GET");
    assert.equal(fed[ADDRESSES.REQUEST_URI_RAW], "/a?q=1");
    assert.deepEqual(fed[ADDRESSES.REQUEST_QUERY], { q: "1" });
    assert.deepEqual(fed[ADDRESSES.REQUEST_COOKIES], { s: "1" });
    assert.equal(fed[ADDRESSES.CLIENT_IP], "203.0.113.5");
    const fedHeaders = fed[ADDRESSES.REQUEST_HEADERS_NO_COOKIES] as Record<string, unknown>;
    assert.equal(fedHeaders.cookie, undefined);
    assert.equal(fedHeaders.host, "shop");
  });

  test("the block page follows the request's Accept header", async () => {
    const { inspection } = setup({ script: () => ({ action: { ...BLOCK, type: "auto" } }) });
    const verdict = await inspection.requestHeaders(headers({ ...GET, accept: "text/html" }, true));
    assert.ok(!isProtocolError(verdict) && verdict.kind === "immediate");
    assert.equal(new TextDecoder().decode(verdict.body), "<p>blocked id-1</p>");
    assert.deepEqual(verdict.headers[0], ["content-type", "text/html"]);
    assert.equal(verdict.details, "aap_blocked");
  });
});

describe("bodies", () => {
  test("chunks are acknowledged, then the body is analysed once at its end", async () => {
    const { inspection, waf } = setup({ script: blockBodies });
    inspection.requestHeaders(headers(POST_JSON));
    assert.equal(await kindOf(inspection.requestBody(chunk('{"a":'))), "continue");
    assert.equal(waf.runs.length, 1);
    assert.equal(await kindOf(inspection.requestBody(chunk('"attack"}', true))), "immediate:403");
    assert.deepEqual(waf.runs[1]?.[ADDRESSES.REQUEST_BODY], { a: "attack" });
    assert.equal(await kindOf(inspection.requestBody(chunk("late", true))), "continue");
    assert.equal(waf.runs.length, 2);
  });

  test("a body passing the limit is analysed at that chunk, truncated", async () => {
    const { inspection, waf } = setup({ script: blockBodies, options: { bodyLimitBytes: 16 } });
    inspection.requestHeaders(headers(POST_JSON));
    const verdict = inspection.requestBody(chunk(`{"t":"attack ${"x".repeat(40)}"}`));
    assert.equal(await kindOf(verdict), "immediate:403");
    assert.equal(waf.runs.length, 2);
  });

  test("trailers end a body that had no end-of-stream chunk", async () => {
    const { inspection } = setup({ script: blockBodies });
    inspection.requestHeaders(headers(POST_JSON));
    await inspection.requestBody(chunk('{"a":"attack"}'));
    assert.equal(await kindOf(inspection.requestTrailers()), "immediate:403");
  });

  test("response headers before the request body ended: the partial body is analysed first", async () => {
    const { inspection } = setup({ script: blockBodies });
    inspection.requestHeaders(headers(POST_JSON));
    await inspection.requestBody(chunk('{"a":"attack"'));
    assert.equal(await kindOf(inspection.responseHeaders(headers(OK_JSON))), "immediate:403");
  });

  test("a body sent unasked (static body mode) is analysed when its type is inspectable", async () => {
    const { inspection, waf } = setup({ script: blockBodies });
    inspection.requestHeaders(headers({ ...POST_JSON }, false));
    assert.equal(
      await kindOf(inspection.requestBody(chunk('{"x":"attack"}', true))),
      "immediate:403",
    );
    const image = setup({ script: blockBodies });
    image.inspection.requestHeaders(headers({ ...POST_JSON, "content-type": "image/png" }));
    assert.equal(await kindOf(image.inspection.requestBody(chunk("attack", true))), "continue");
    assert.equal(image.waf.runs.length, 1);
    assert.equal(waf.runs.length, 2);
  });

  test("the shared memory budget cuts a body short and is given back", async () => {
    const { inspection, bodyBudget, waf } = setup({ script: blockBodies, budgetBytes: 8 });
    inspection.requestHeaders(headers(POST_JSON));
    assert.equal(await kindOf(inspection.requestBody(chunk('{"a":"xx"}'))), "continue");
    assert.equal(waf.runs.length, 2, "analysed at once, as a truncated body");
    assert.equal(bodyBudget.usedBytes, 0);
    inspection.end("complete");
    assert.equal(bodyBudget.usedBytes, 0);
  });

  test("a body held when the exchange ends gives its bytes back", () => {
    const { inspection, bodyBudget } = setup();
    inspection.requestHeaders(headers(POST_JSON));
    inspection.requestBody(chunk("{"));
    assert.equal(bodyBudget.usedBytes, 1);
    inspection.end("cancelled");
    assert.equal(bodyBudget.usedBytes, 0);
  });
});

describe("response headers", () => {
  const cases: Array<{ name: string; setup?: Setup; response: HeadersMessage; want: string }> = [
    {
      name: "no rule reads the response body: reply and close",
      response: headers(OK_JSON),
      want: "continue:close",
    },
    {
      name: "a rule reads the response body: ask for it",
      setup: { waf: { readByRules: [ADDRESSES.RESPONSE_BODY] } },
      response: headers(OK_JSON),
      want: "continue:streamed",
    },
    {
      name: "buffered-partial responses when configured",
      setup: {
        waf: { readByRules: [ADDRESSES.RESPONSE_BODY] },
        options: { responseBodyMode: "buffered-partial" },
      },
      response: headers(OK_JSON),
      want: "continue:buffered-partial",
    },
    {
      name: "observability mode streams (Envoy ignores overrides)",
      setup: {
        waf: { readByRules: [ADDRESSES.RESPONSE_BODY] },
        options: { responseBodyMode: "buffered-partial", observabilityMode: true },
      },
      response: headers(OK_JSON),
      want: "continue:streamed",
    },
    {
      name: "API Security sampling asks for the body",
      setup: { options: { apiSecurityEnabled: true }, sampleSchema: true },
      response: headers(OK_JSON),
      want: "continue:streamed",
    },
    {
      name: "a response block answers before the headers leave",
      setup: {
        script: (a) => (a[ADDRESSES.RESPONSE_STATUS] === "500" ? { action: BLOCK } : undefined),
      },
      response: headers({ ":status": "500" }, true),
      want: "immediate:403",
    },
    {
      name: "missing :status is a protocol error",
      response: headers({ "content-type": "text/plain" }, true),
      want: "error:invalid-response-headers",
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { inspection } = setup(c.setup);
      inspection.requestHeaders(headers(GET, true));
      assert.equal(await kindOf(inspection.responseHeaders(c.response)), c.want);
    });
  }

  test("response headers are fed only when a rule reads them; schemas ask the processor", () => {
    const plain = setup();
    plain.inspection.requestHeaders(headers(GET, true));
    plain.inspection.responseHeaders(headers({ ":status": "200", "x-a": "1" }, true));
    assert.deepEqual(Object.keys(plain.waf.runs[1] ?? {}), [ADDRESSES.RESPONSE_STATUS]);
    const sampled = setup({ options: { apiSecurityEnabled: true }, sampleSchema: true });
    sampled.inspection.requestHeaders(headers(GET, true));
    sampled.inspection.responseHeaders(headers({ ":status": "200", "set-cookie": "s=1" }, true));
    const fed = sampled.waf.runs[1] ?? {};
    assert.ok(ADDRESSES.WAF_CONTEXT_PROCESSOR in fed);
    assert.deepEqual(fed[ADDRESSES.RESPONSE_HEADERS_NO_COOKIES], {});
  });

  test("a BUFFERED_PARTIAL body is one message: analysed at once, then the stream may end", async () => {
    const { inspection, waf } = setup({
      waf: { readByRules: [ADDRESSES.RESPONSE_BODY] },
      options: { responseBodyMode: "buffered-partial" },
    });
    inspection.requestHeaders(headers(GET, true));
    inspection.responseHeaders(headers(OK_JSON));
    assert.equal(await kindOf(inspection.responseBody(chunk('{"ok":1}'))), "continue:close");
    assert.deepEqual(waf.runs[2]?.[ADDRESSES.RESPONSE_BODY], { ok: 1 });
  });
});

describe("pass-through", () => {
  test("every message continues; the response headers end the stream", async () => {
    const inspection = PASS_THROUGH_INSPECTOR.open(INFO);
    assert.equal(await kindOf(inspection.requestHeaders(headers(GET))), "continue");
    assert.equal(await kindOf(inspection.requestBody(chunk("x"))), "continue");
    assert.equal(await kindOf(inspection.requestTrailers()), "continue");
    assert.equal(await kindOf(inspection.responseHeaders(headers(OK_JSON))), "continue:close");
    assert.equal(await kindOf(inspection.responseBody(chunk("x"))), "continue");
    assert.equal(await kindOf(inspection.responseTrailers()), "continue");
  });
});

describe("end", () => {
  test("frees the WAF context and finishes the span once, with what was decided", async () => {
    const { inspection, waf, tracer } = setup({ script: () => ({ action: BLOCK }) });
    await inspection.requestHeaders(headers(GET, true));
    inspection.end("blocked");
    inspection.end("error");
    assert.equal(waf.openContexts, 0);
    assert.equal(waf.disposeCalls, 1);
    assert.equal(tracer.ends.length, 1);
    assert.equal(tracer.ends[0]?.outcome, "blocked");
    assert.deepEqual(tracer.ends[0]?.blockedBy, BLOCK);
    assert.equal(tracer.ends[0]?.rulesVersion, "9.9.9");
  });

  test("observing: the would-be action is reported, nothing marked blocked", async () => {
    const { inspection, tracer } = setup({
      script: () => ({ action: BLOCK }),
      options: { observabilityMode: true },
    });
    await inspection.requestHeaders(headers(GET, true));
    inspection.responseHeaders(headers({ ":status": "201" }, true));
    inspection.end("complete");
    assert.equal(tracer.ends[0]?.blockedBy, undefined);
    assert.deepEqual(tracer.ends[0]?.wouldHaveBlocked, BLOCK);
    assert.equal(tracer.ends[0]?.response?.status, 201);
    assert.equal(tracer.ends[0]?.observabilityMode, true);
  });

  test("invalid request headers: no span, the context is still freed", () => {
    const { inspection, waf, tracer } = setup();
    inspection.requestHeaders(headers({ ":method": "GET" }));
    inspection.end("error");
    assert.equal(tracer.ends.length, 0);
    assert.equal(waf.openContexts, 0);
  });

  test("every WAF run is reported to the span", async () => {
    const { inspection, tracer } = setup({ script: blockBodies });
    inspection.requestHeaders(headers(POST_JSON));
    await inspection.requestBody(chunk('{"a":"attack"}', true));
    inspection.end("blocked");
    assert.equal(tracer.noted[0]?.length, 2);
  });
});

/** However an exchange ends, its WAF context is freed (a leak would grow libddwaf memory). */
test("a thousand exchanges leave no context open", async () => {
  const { waf, tracer } = setup();
  const inspector = createWafInspector(OPTIONS, {
    engine: waf.engine,
    templates: FAKE_TEMPLATES,
    tracer,
    bodyBudget: createBodyBudget(1 << 20),
    log: silentLogger,
  });
  const outcomes = ["complete", "blocked", "cancelled", "error"] as const;
  for (let i = 0; i < 1000; i += 1) {
    const inspection: Inspection = inspector.open(INFO);
    await inspection.requestHeaders(headers(POST_JSON));
    inspection.requestBody(chunk("{"));
    inspection.end(outcomes[i % outcomes.length] ?? "complete");
  }
  assert.equal(waf.openContexts, 1, "only the context of setup()'s own inspection");
});

test("WAF runs, rule matches and inspected bodies are counted", async () => {
  const counted: string[] = [];
  const metrics: InspectionMetrics = {
    wafRun: (_us, timedOut, failed) => counted.push(`run:${timedOut}:${failed}`),
    ruleMatched: (id) => counted.push(`rule:${id}`),
    bodyInspected: (direction, truncated) => counted.push(`body:${direction}:${truncated}`),
  };
  const { inspection } = setup({ metrics, script: blockBodies });
  inspection.requestHeaders(headers(POST_JSON));
  await inspection.requestBody(chunk('{"a":"attack"}', true));
  assert.deepEqual(counted, [
    "run:false:false",
    "body:request:false",
    "run:false:false",
    "rule:scripted-rule",
  ]);
});
