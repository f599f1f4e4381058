/**
 * The span each stream produces, through the real pipeline (recording tracer, real libddwaf, test
 * ruleset): one span per stream however it ends, with the security tags the Go reference sets,
 * and trace context injected towards the backend as the standalone rules say.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { exchange, openStream, status } from "../support/grpc-client.ts";
import {
  headerList,
  headersSet,
  requestBody,
  requestHeaders,
  responseBody,
  responseHeaders,
} from "../support/messages.ts";
import type { RecordedSpan } from "../support/recording-tracer.ts";
import { startWafServer, TEST_RULES, type WafServer } from "../support/waf-server.ts";

async function nextSpan(waf: WafServer, count: number): Promise<RecordedSpan> {
  for (let i = 0; i < 200 && waf.spans.length < count; i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  const span = waf.spans[count - 1];
  assert.ok(span, `expected span #${count}, have ${waf.spans.length}`);
  return span;
}

function triggerIds(span: RecordedSpan): string[] {
  const json = JSON.parse(span.meta["_dd.appsec.json"] ?? '{"triggers":[]}') as {
    triggers: Array<{ rule: { id: string } }>;
  };
  return json.triggers.map((trigger) => trigger.rule.id).sort();
}

describe("spans in standalone mode (default)", () => {
  let waf: WafServer;
  before(async () => {
    waf = await startWafServer({
      DD_APPSEC_RULES: TEST_RULES,
      DD_APPSEC_BODY_PARSING_SIZE_LIMIT: "256",
    });
  });
  after(() => waf.close());

  test("B01 benign request: one span, no event, no trace context injected", async () => {
    const count = waf.spans.length + 1;
    const stream = openStream(waf.client, { "x-datadog-istio-integration": "1" });
    const reply = await exchange(
      stream,
      requestHeaders(headerList("PUT", "/", { "user-agent": "Chromium" }), true),
    );
    assert.deepEqual(headersSet(reply), {});
    await exchange(stream, responseHeaders({ ":status": "200" }, true));
    const span = await nextSpan(waf, count);
    assert.equal(span.name, "http.request");
    assert.equal(span.resource, "PUT /");
    assert.equal(span.meta["http.status_code"], "200");
    assert.equal(span.meta.component, "istio");
    assert.equal(span.meta["appsec.event"], undefined);
    assert.equal(span.metrics["_dd.appsec.enabled"], 1);
  });

  test("B03 blocked on request headers: event, blocked, 403, kept, trace context injected", async () => {
    const count = waf.spans.length + 1;
    const stream = openStream(waf.client);
    const reply = await exchange(
      stream,
      requestHeaders(headerList("GET", "/", { "user-agent": "dd-test-scanner-log-block" }), true),
    );
    assert.equal(reply.response.case, "immediateResponse");
    const span = await nextSpan(waf, count);
    assert.equal(span.meta["appsec.event"], "true");
    assert.equal(span.meta["appsec.blocked"], "true");
    assert.equal(span.meta["_dd.origin"], "appsec");
    assert.equal(span.meta["http.status_code"], "403");
    assert.deepEqual(triggerIds(span), ["ua0-600-56x"]);
    assert.equal(span.asmKept, true);
    assert.equal(span.end.outcome, "blocked");
  });

  test("B18 blocked on the request body: the body's trigger is on the span", async () => {
    const count = waf.spans.length + 1;
    const stream = openStream(waf.client);
    await exchange(
      stream,
      requestHeaders(headerList("POST", "/api", { "content-type": "application/json" }), false),
    );
    const reply = await exchange(stream, requestBody('{ "name": "$globals" }', true));
    assert.equal(reply.response.case, "immediateResponse");
    const span = await nextSpan(waf, count);
    assert.ok(triggerIds(span).includes("crs-933-130-block"));
    assert.equal(span.meta["appsec.blocked"], "true");
  });

  test("an attack on request headers that is only monitored injects the trace context (the trace is kept)", async () => {
    const stream = openStream(waf.client);
    const reply = await exchange(
      stream,
      requestHeaders(headerList("POST", "/", { "user-agent": "dd-test-scanner-log" }), true),
    );
    assert.ok(Object.keys(headersSet(reply)).length > 0, "propagation headers set on the request");
  });

  test("B44 a cancelled stream still finishes its span once", async () => {
    const count = waf.spans.length + 1;
    const stream = openStream(waf.client);
    await exchange(
      stream,
      requestHeaders(headerList("POST", "/upload", { "content-type": "application/json" }), false),
    );
    stream.cancel();
    const span = await nextSpan(waf, count);
    assert.equal(span.end.outcome, "cancelled");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(waf.spans.length, count);
  });
});

describe("spans with APM tracing enabled", () => {
  test("every request's trace context is injected", async (t) => {
    const waf = await startWafServer({
      DD_APPSEC_RULES: TEST_RULES,
      DD_APM_TRACING_ENABLED: "true",
    });
    t.after(() => waf.close());
    const stream = openStream(waf.client);
    const reply = await exchange(
      stream,
      requestHeaders(headerList("PUT", "/", { "user-agent": "Chromium" }), true),
    );
    assert.ok(Object.keys(headersSet(reply)).length > 0);
  });
});

describe("API Security schemas (recommended ruleset)", () => {
  test("B38/B39 a sampled request carries request, response and body schemas; the next one of the endpoint does not", async (t) => {
    const waf = await startWafServer();
    t.after(() => waf.close());
    const send = async () => {
      const count = waf.spans.length + 1;
      const stream = openStream(waf.client);
      await exchange(
        stream,
        requestHeaders(
          headerList("POST", "/api/hello", {
            "user-agent": "Chromium",
            "content-type": "application/json",
          }),
          false,
        ),
      );
      await exchange(stream, requestBody('{"hello_request_body":"world"}', true));
      const reply = await exchange(
        stream,
        responseHeaders({ ":status": "200", "content-type": "application/json" }, false),
      );
      // The response body is asked for only when its schema is extracted (no recommended rule
      // reads it); otherwise the stream ends after the response headers.
      const askedForBody = reply.modeOverride?.responseBodyMode !== undefined;
      if (askedForBody)
        await exchange(stream, responseBody('{"hello_response_body": "world"}', true));
      else assert.equal((await stream.status).code, status.OK);
      return { span: await nextSpan(waf, count), askedForBody };
    };
    const { span: first, askedForBody: firstAsked } = await send();
    assert.ok(firstAsked, "the sampled request's response body is asked for");
    assert.ok(
      first.meta["_dd.appsec.s.req.headers"],
      `schema tags: ${Object.keys(first.meta).filter((key) => key.startsWith("_dd.appsec.s."))}`,
    );
    assert.ok(first.meta["_dd.appsec.s.req.body"]?.includes("hello_request_body"));
    assert.ok(first.meta["_dd.appsec.s.res.body"]?.includes("hello_response_body"));
    assert.ok(first.meta["_dd.appsec.s.res.headers"]);
    const { span: second, askedForBody: secondAsked } = await send();
    assert.ok(!secondAsked, "an unsampled response body is not asked for");
    assert.equal(
      second.meta["_dd.appsec.s.req.headers"],
      undefined,
      "sampled once per endpoint per DD_API_SECURITY_SAMPLE_DELAY",
    );
  });
});
