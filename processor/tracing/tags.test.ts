import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import {
  event,
  RULES_VERSION,
  request,
  response,
  run,
  SCENARIO_NAMES,
  type ScenarioName,
  scenarios,
  WAF_VERSION,
} from "../../test/support/tracing-scenarios.ts";
import { MAX_TRIGGERS, spanTagsFor } from "./tags.ts";
import type { SpanEnd, SpanStart } from "./types.ts";

const all = scenarios();
const tagsOf = (name: ScenarioName, first = false) => {
  const s = all[name];
  return spanTagsFor(s.start, s.runs, s.end, { firstAfterRulesLoad: first });
};
const triggersOf = (name: ScenarioName) => all[name].runs.flatMap((r) => r.events);

/** Tags every span of a `https://datadoghq.com` request carries. */
function common(fields: {
  component?: string;
  method: string;
  url: string;
  endpoint: string;
  ua: string;
  status?: string;
  clientIp?: string;
}): Record<string, string> {
  const meta: Record<string, string> = {
    "span.kind": "server",
    component: fields.component ?? "envoy",
    "http.method": fields.method,
    "http.url": fields.url,
    "http.endpoint": fields.endpoint,
    "http.host": "datadoghq.com",
    "http.useragent": fields.ua,
    "http.client_ip": fields.clientIp ?? "10.0.0.7",
    "network.client.ip": "10.0.0.7",
    "http.request.headers.host": "datadoghq.com",
    "http.request.headers.user-agent": fields.ua,
    "_dd.runtime_family": "nodejs",
    "_dd.appsec.event_rules.version": RULES_VERSION,
  };
  if (fields.status !== undefined) meta["http.status_code"] = fields.status;
  return meta;
}

function eventTags(name: ScenarioName): Record<string, string> {
  return {
    "appsec.event": "true",
    "_dd.origin": "appsec",
    "_dd.appsec.json": JSON.stringify({ triggers: triggersOf(name) }),
    "_dd.appsec.waf.version": WAF_VERSION,
  };
}

describe("spanTagsFor: the scenarios, tag by tag (docs/span-tags.md, B35)", () => {
  test("benign: request and response tags, no appsec event", () => {
    const tags = tagsOf("benign");
    assert.equal(tags.name, "http.request");
    assert.equal(tags.type, "web");
    assert.equal(tags.resource, "GET /api/users/123");
    assert.equal(tags.error, false);
    assert.deepEqual(tags.meta, {
      ...common({
        method: "GET",
        url: "https://datadoghq.com/api/users/123",
        endpoint: "/api/users/{param:int}",
        ua: "Mozilla/5.0",
        status: "200",
        clientIp: "18.18.18.18",
      }),
      "http.request.headers.accept": "application/json",
      "http.request.headers.x-forwarded-for": "18.18.18.18",
      "http.response.headers.content-type": "application/json",
      "http.response.headers.content-length": "42",
    });
    assert.deepEqual(tags.metrics, { "_dd.appsec.enabled": 1, "_dd.appsec.waf.duration": 52 });
  });

  test("benign, first span after the rules loaded: carries the WAF version", () => {
    const tags = tagsOf("benign", true);
    assert.equal(tags.meta["_dd.appsec.waf.version"], WAF_VERSION);
    assert.equal(tags.meta["appsec.event"], undefined);
  });

  test("attack monitored (istio): event, triggers, origin, fingerprints, query obfuscated", () => {
    const tags = tagsOf("monitored");
    assert.equal(tags.resource, "POST /login");
    assert.deepEqual(tags.meta, {
      ...common({
        component: "istio",
        method: "POST",
        url: "https://datadoghq.com/login?<redacted>&user=bob",
        endpoint: "/login",
        ua: "dd-test-scanner-log",
        status: "201",
      }),
      "http.request.headers.content-type": "application/json",
      "http.response.headers.content-type": "text/plain",
      ...eventTags("monitored"),
      "_dd.appsec.fp.http.endpoint": "http-get-1f4a2c0b-a2cd3ef1-",
      "_dd.appsec.fp.http.header": "hdr-0000000000-3626b5f8-3-4740ae63",
      "_dd.appsec.fp.http.network": "net-1-1000000000",
    });
    assert.deepEqual(tags.metrics, { "_dd.appsec.enabled": 1, "_dd.appsec.waf.duration": 100 });
  });

  test("blocked on request headers: blocked, status = block status, no response tags", () => {
    const tags = tagsOf("blocked-request-headers");
    assert.equal(tags.resource, "GET /");
    const triggers = JSON.parse(tags.meta["_dd.appsec.json"] ?? "{}").triggers;
    assert.deepEqual(
      triggers.map((t: { rule: { id: string } }) => t.rule.id),
      ["custom-001", "ua0-600-56x"],
    );
    assert.equal(triggers[1].security_response_id, "b3a1c2d4-0000-4000-8000-000000000001");
    assert.deepEqual(tags.meta, {
      ...common({
        method: "GET",
        url: "https://datadoghq.com/",
        endpoint: "/",
        ua: "dd-test-scanner-log-block",
        status: "403",
      }),
      ...eventTags("blocked-request-headers"),
      "appsec.blocked": "true",
    });
    assert.deepEqual(tags.metrics, { "_dd.appsec.enabled": 1, "_dd.appsec.waf.duration": 95 });
  });

  test("blocked on request body: triggers of both runs merged in order", () => {
    const tags = tagsOf("blocked-request-body");
    assert.deepEqual(tags.meta, {
      ...common({
        method: "GET",
        url: "https://datadoghq.com/",
        endpoint: "/",
        ua: "curl/8.0",
        status: "403",
      }),
      "http.request.headers.content-type": "application/json",
      ...eventTags("blocked-request-body"),
      "appsec.blocked": "true",
    });
    assert.deepEqual(tags.metrics, { "_dd.appsec.enabled": 1, "_dd.appsec.waf.duration": 160 });
  });

  test("blocked on response: status 418, request schema kept, response schema dropped", () => {
    const tags = tagsOf("blocked-response");
    assert.equal(tags.resource, "OPTION /");
    assert.deepEqual(tags.meta, {
      ...common({
        method: "OPTION",
        url: "https://datadoghq.com/",
        endpoint: "/",
        ua: "Chrome",
        status: "418",
      }),
      ...eventTags("blocked-response"),
      "appsec.blocked": "true",
      "_dd.appsec.s.req.headers": '[{"user-agent":[[[8]],{"len":1}]}]',
    });
    assert.deepEqual(tags.metrics, { "_dd.appsec.enabled": 1, "_dd.appsec.waf.duration": 80 });
  });

  test("redirected: blocked with the redirect status", () => {
    const tags = tagsOf("redirected");
    assert.deepEqual(tags.meta, {
      ...common({
        method: "GET",
        url: "https://datadoghq.com/admin",
        endpoint: "/admin",
        ua: "Mozilla/5.0",
        status: "302",
      }),
      ...eventTags("redirected"),
      "appsec.blocked": "true",
    });
  });

  test("observability mode: event reported, upstream status, never appsec.blocked (B45)", () => {
    const tags = tagsOf("observability");
    assert.deepEqual(tags.meta, {
      ...common({
        method: "GET",
        url: "https://datadoghq.com/",
        endpoint: "/",
        ua: "dd-test-scanner-log-block",
        status: "200",
      }),
      "http.response.headers.content-type": "text/html",
      ...eventTags("observability"),
    });
  });

  test("cancelled stream: status 200, request-side event kept, resource cleaned (B35, B44)", () => {
    const tags = tagsOf("cancelled");
    assert.equal(tags.resource, "GET /resource-span");
    assert.deepEqual(tags.meta, {
      ...common({
        method: "GET",
        url: "https://datadoghq.com/../../../resource-span/.?id=test",
        endpoint: "/../../../resource-span/.",
        ua: "Mistake Not...",
        status: "200",
      }),
      ...eventTags("cancelled"),
    });
  });

  test("WAF timeout: timeouts counted, duration summed, 5xx marks the span as an error", () => {
    const tags = tagsOf("waf-timeout");
    assert.equal(tags.error, true);
    assert.deepEqual(tags.meta, {
      ...common({
        method: "PUT",
        url: "https://datadoghq.com/upload",
        endpoint: "/upload",
        ua: "Mozilla/5.0",
        status: "503",
      }),
      "http.response.headers.content-type": "text/plain",
    });
    assert.deepEqual(tags.metrics, {
      "_dd.appsec.enabled": 1,
      "_dd.appsec.waf.duration": 10_000,
      "_dd.appsec.waf.timeouts": 2,
    });
  });

  test("every scenario has the fixed span identity and the appsec metric", () => {
    for (const name of SCENARIO_NAMES) {
      const tags = tagsOf(name);
      assert.equal(tags.name, "http.request", name);
      assert.equal(tags.type, "web", name);
      assert.equal(tags.meta["span.kind"], "server", name);
      assert.equal(tags.metrics["_dd.appsec.enabled"], 1, name);
      assert.equal(tags.meta["http.request.headers.cookie"], undefined, name);
      assert.equal(tags.meta["http.response.headers.set-cookie"], undefined, name);
    }
  });
});

const plainEnd: SpanEnd = {
  outcome: "complete",
  response: response(200),
  observabilityMode: false,
  wafVersion: WAF_VERSION,
  rulesVersion: RULES_VERSION,
  wafTimeouts: 0,
  wafDurationUs: 0,
};
const startOf = (path: string, headers: Record<string, string> = {}): SpanStart => ({
  integration: "envoy",
  request: request("GET", path, headers),
});

describe("spanTagsFor: details", () => {
  test("status: error outcome without response has none; cancelled without response is 200", () => {
    const start = startOf("/");
    const { response: _omit, ...noResponse } = plainEnd;
    assert.equal(
      spanTagsFor(start, [], { ...noResponse, outcome: "error" }).meta["http.status_code"],
      undefined,
    );
    assert.equal(
      spanTagsFor(start, [], { ...noResponse, outcome: "cancelled" }).meta["http.status_code"],
      "200",
    );
    const error = spanTagsFor(start, [], { ...plainEnd, response: response(500) });
    assert.equal(error.error, true);
    assert.equal(spanTagsFor(start, [], { ...plainEnd, response: response(499) }).error, false);
  });

  test("headers: Go's list, values joined with ',', the custom client-IP header added", () => {
    const start = startOf("/", {
      "x-forwarded-for": "1.1.1.1",
      "x-custom-ip": "18.18.18.18",
      via: "1.1 envoy",
      "x-datadog-security-test": "yes",
      authorization: "Bearer secret",
      "x-unlisted": "nope",
    });
    start.request.headers["accept-language"] = ["en", "fr"];
    const tags = spanTagsFor(
      start,
      [],
      {
        ...plainEnd,
        response: response(200, { "content-language": ["en"], "x-other": ["no"], via: ["proxy"] }),
      },
      { clientIpHeader: "X-Custom-IP" },
    );
    assert.equal(tags.meta["http.request.headers.x-forwarded-for"], "1.1.1.1");
    assert.equal(tags.meta["http.request.headers.x-custom-ip"], "18.18.18.18");
    assert.equal(tags.meta["http.request.headers.via"], "1.1 envoy");
    assert.equal(tags.meta["http.request.headers.accept-language"], "en,fr");
    assert.equal(tags.meta["http.request.headers.x-datadog-security-test"], "yes");
    assert.equal(tags.meta["http.request.headers.authorization"], undefined);
    assert.equal(tags.meta["http.request.headers.x-unlisted"], undefined);
    assert.equal(tags.meta["http.response.headers.content-language"], "en");
    assert.equal(tags.meta["http.response.headers.via"], "proxy");
    assert.equal(tags.meta["http.response.headers.x-other"], undefined);
  });

  test("no user agent, no authority, no client IP: those tags are absent", () => {
    const entries = { integration: "envoy" as const, request: request("GET", "/", {}, "") };
    entries.request.authority = "";
    delete entries.request.headers.host;
    const tags = spanTagsFor(entries, [], plainEnd);
    assert.equal(tags.meta["http.useragent"], undefined);
    assert.equal(tags.meta["http.host"], undefined);
    assert.equal(tags.meta["http.client_ip"], undefined);
    assert.equal(tags.meta["network.client.ip"], undefined);
    assert.equal(tags.meta["http.url"], "https:///");
  });

  test(`at most ${MAX_TRIGGERS} triggers per span`, () => {
    const events = Array.from({ length: 15 }, (_, i) =>
      event(`rule-${i}`, "custom", "server.request.uri.raw", "/"),
    );
    const tags = spanTagsFor(
      startOf("/"),
      [run({ events: events.slice(0, 8) }), run({ events: events.slice(8) })],
      plainEnd,
    );
    const triggers = JSON.parse(tags.meta["_dd.appsec.json"] ?? "{}").triggers;
    assert.equal(triggers.length, MAX_TRIGGERS);
    assert.equal(triggers[9].rule.id, "rule-9");
  });

  test("WAF error: the most severe code as a metric", () => {
    const tags = spanTagsFor(
      startOf("/"),
      [run({ errorCode: -1 }), run({ errorCode: -3 }), run()],
      plainEnd,
    );
    assert.equal(tags.metrics["_dd.appsec.waf.error"], -3);
  });

  test("no WAF run: no duration metric; no rules version: no rules tag", () => {
    const tags = spanTagsFor(startOf("/"), [], { ...plainEnd, rulesVersion: undefined });
    assert.equal(tags.metrics["_dd.appsec.waf.duration"], undefined);
    assert.equal(tags.meta["_dd.appsec.event_rules.version"], undefined);
  });

  test("attributes: later runs win; numbers as metrics; schemas as JSON or gzip+base64", () => {
    const runs = [
      run({
        attributes: { "_dd.appsec.fp.http.header": "old", "_dd.appsec.s.req.query": [{ q: [8] }] },
      }),
      run({
        attributes: {
          "_dd.appsec.fp.http.header": "new",
          "_dd.appsec.x.count": 3,
          "_dd.appsec.x.obj": { a: 1 },
        },
      }),
    ];
    const json = spanTagsFor(startOf("/"), runs, plainEnd);
    assert.equal(json.meta["_dd.appsec.fp.http.header"], "new");
    assert.equal(json.meta["_dd.appsec.s.req.query"], '[{"q":[8]}]');
    assert.equal(json.metrics["_dd.appsec.x.count"], 3);
    assert.equal(json.meta["_dd.appsec.x.obj"], '{"a":1}');
    const gz = spanTagsFor(startOf("/"), runs, plainEnd, { schemaEncoding: "gzip-base64" });
    const encoded = gz.meta["_dd.appsec.s.req.query"] ?? "";
    assert.equal(gunzipSync(Buffer.from(encoded, "base64")).toString(), '[{"q":[8]}]');
  });

  test("response schemas are kept when not blocked (API Security, B38)", () => {
    const schema = [{ "content-type": [[[8]], { len: 1 }] }];
    const tags = spanTagsFor(
      startOf("/"),
      [run({ attributes: { "_dd.appsec.s.res.headers": schema } })],
      plainEnd,
    );
    assert.equal(tags.meta["_dd.appsec.s.res.headers"], '[{"content-type":[[[8]],{"len":1}]}]');
  });

  test("a block in observability mode is not a block", () => {
    const tags = spanTagsFor(startOf("/"), [], {
      ...plainEnd,
      observabilityMode: true,
      blockedBy: { kind: "block", status: 403, type: "auto" },
    });
    assert.equal(tags.meta["appsec.blocked"], undefined);
    assert.equal(tags.meta["http.status_code"], "200");
  });
});
