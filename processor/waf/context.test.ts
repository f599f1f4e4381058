import assert from "node:assert/strict";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../log.ts";
import { ADDRESSES, EXTRACT_SCHEMA } from "./addresses.ts";
import { WAF_ERROR_CODES, type WafContext } from "./context.ts";
import { createWafEngine } from "./engine.ts";

const BUDGET_US = 100_000;
const recommended = createWafEngine({ log: silentLogger });
const testRules = createWafEngine({
  rulesPath: fileURLToPath(new URL("../../test/fixtures/rules/test-rules.json", import.meta.url)),
  log: silentLogger,
});
after(() => {
  recommended.dispose();
  testRules.dispose();
});

const ruleIds = (events: readonly unknown[]): string[] =>
  events.map((event) => (event as { rule: { id: string } }).rule.id);

/** Runs `addresses` on a fresh context of the recommended ruleset. */
function runOnce(addresses: Record<string, unknown>) {
  const context = recommended.createContext();
  try {
    return context.run(addresses, BUDGET_US);
  } finally {
    context.dispose();
  }
}

const request = (extra: Record<string, unknown>) => ({
  [ADDRESSES.REQUEST_METHOD]: "GET",
  [ADDRESSES.REQUEST_URI_RAW]: "/search?q=x",
  [ADDRESSES.REQUEST_HEADERS_NO_COOKIES]: { host: ["example.com"], "user-agent": ["Mozilla/5.0"] },
  [ADDRESSES.CLIENT_IP]: "203.0.113.7",
  ...extra,
});

test("a benign request matches nothing", () => {
  const result = runOnce(request({ [ADDRESSES.REQUEST_QUERY]: { q: ["shoes size 42"] } }));
  assert.deepEqual(result.events, []);
  assert.deepEqual(result.actions, []);
  assert.equal(result.timedOut, false);
  assert.equal(result.errorCode, undefined);
  assert.ok(result.durationUs > 0);
});

test("XSS in the query triggers a crs-941 rule", () => {
  const result = runOnce(
    request({ [ADDRESSES.REQUEST_QUERY]: { q: ["<script>alert(1)</script>"] } }),
  );
  const ids = ruleIds(result.events);
  assert.ok(
    ids.some((id) => id.startsWith("crs-941-")),
    ids.join(),
  );
  assert.deepEqual(result.actions, []);
  assert.equal(result.keep, true);
});

test("SQL injection in the query triggers crs-942-100", () => {
  const result = runOnce(request({ [ADDRESSES.REQUEST_QUERY]: { q: ["' OR 1=1--"] } }));
  assert.ok(ruleIds(result.events).includes("crs-942-100"));
});

test("the blocking canary user agent yields a 403 auto block", () => {
  const headers = { "user-agent": ["dd-test-scanner-log-block"] };
  const result = runOnce(request({ [ADDRESSES.REQUEST_HEADERS_NO_COOKIES]: headers }));
  assert.deepEqual(ruleIds(result.events), ["ua0-600-56x"]);
  assert.equal(result.actions.length, 1);
  const [action] = result.actions;
  assert.equal(action?.kind, "block");
  assert.equal(action?.status, 403);
  assert.equal(action?.kind === "block" ? action.type : undefined, "auto");
  const eventId = (result.events[0] as { security_response_id?: string }).security_response_id;
  assert.equal(action?.securityResponseId, eventId);
});

test("fingerprints and, on request, API Security schemas come back as attributes", () => {
  const plain = runOnce(request({}));
  assert.ok("_dd.appsec.fp.http.header" in plain.attributes);
  assert.ok(!("_dd.appsec.s.req.headers" in plain.attributes));
  const sampled = runOnce(request({ [ADDRESSES.WAF_CONTEXT_PROCESSOR]: EXTRACT_SCHEMA }));
  assert.ok("_dd.appsec.s.req.headers" in sampled.attributes);
});

test("ephemeral data is evaluated once and not kept", (t) => {
  const context = testRules.createContext();
  t.after(() => context.dispose());
  const status = { [ADDRESSES.RESPONSE_STATUS]: "555" };
  const first = context.run({ [ADDRESSES.REQUEST_URI_RAW]: "/fine" }, BUDGET_US, {
    ephemeral: true,
  });
  assert.deepEqual(first.events, []);
  const second = context.run(status, BUDGET_US, { ephemeral: true });
  assert.deepEqual(ruleIds(second.events), ["tst-status-001"]);
  // The ephemeral status is gone: a later run on other data does not match it again.
  const third = context.run({ [ADDRESSES.REQUEST_METHOD]: "PUT" }, BUDGET_US);
  assert.deepEqual(third.events, []);
});

test("persistent data combines across runs: URI in the request, 404 in the response", (t) => {
  const context = recommended.createContext();
  t.after(() => context.dispose());
  const first = context.run({ [ADDRESSES.REQUEST_URI_RAW]: "/docs/readme.txt" }, BUDGET_US);
  assert.deepEqual(first.events, []);
  const second = context.run({ [ADDRESSES.RESPONSE_STATUS]: "404" }, BUDGET_US);
  assert.deepEqual(ruleIds(second.events), ["nfd-000-002"]);
});

test("unknown addresses and undefined values are not sent to libddwaf", (t) => {
  const context = testRules.createContext();
  t.after(() => context.dispose());
  const result = context.run({ "not.an.address": "x", [ADDRESSES.REQUEST_BODY]: undefined }, 1);
  assert.equal(result.timedOut, false);
  assert.equal(result.durationUs, 0);
  assert.equal(context.spentUs, 0);
});

function exhaust(context: WafContext, budgetUs: number): void {
  const result = context.run(
    { [ADDRESSES.REQUEST_QUERY]: { q: ["<script>x</script>"] } },
    budgetUs,
  );
  assert.equal(result.timedOut, true);
}

test("a 1 µs budget times out, then later runs skip libddwaf", (t) => {
  const context = recommended.createContext();
  t.after(() => context.dispose());
  exhaust(context, 1);
  assert.ok(context.spentUs >= 1);
  const skipped = context.run({ [ADDRESSES.REQUEST_QUERY]: { q: ["' OR 1=1--"] } }, 1);
  assert.equal(skipped.timedOut, true);
  assert.equal(skipped.durationUs, 0);
  assert.deepEqual(skipped.events, []);
  assert.equal(context.timeouts, 2);
  assert.equal(context.hasEvents, false);
});

test("the budget is counted across runs of one context", (t) => {
  const context = recommended.createContext();
  t.after(() => context.dispose());
  const first = context.run(request({}), BUDGET_US);
  assert.equal(first.timedOut, false);
  const spent = context.spentUs;
  assert.ok(spent > 0 && spent >= first.durationUs);
  // A budget equal to what is already spent leaves nothing for the next run.
  const next = context.run({ [ADDRESSES.REQUEST_QUERY]: { q: ["' OR 1=1--"] } }, spent);
  assert.equal(next.timedOut, true);
  assert.equal(next.durationUs, 0);
  assert.equal(context.timeouts, 1);
});

test("cumulative counters: duration, events", (t) => {
  const context = recommended.createContext();
  t.after(() => context.dispose());
  const a = context.run(request({}), BUDGET_US);
  assert.equal(context.hasEvents, false);
  const b = context.run({ [ADDRESSES.REQUEST_QUERY]: { q: ["' OR 1=1--"] } }, BUDGET_US);
  assert.equal(context.hasEvents, true);
  assert.equal(context.durationUs, a.durationUs + b.durationUs);
  assert.equal(context.timeouts, 0);
  assert.equal(context.rulesVersion, recommended.rulesVersion);
});

test("dispose is idempotent and a later run reports CONTEXT_DISPOSED", () => {
  const context = recommended.createContext();
  context.dispose();
  context.dispose();
  const result = context.run(request({}), BUDGET_US);
  assert.equal(result.errorCode, WAF_ERROR_CODES.CONTEXT_DISPOSED);
  assert.deepEqual(result.events, []);
  assert.deepEqual(result.actions, []);
});

test("odd values (bigint, Buffer, null, deep nesting) never throw", (t) => {
  const context = recommended.createContext();
  t.after(() => context.dispose());
  let deep: unknown = "leaf";
  for (let i = 0; i < 10_000; i += 1) deep = { a: deep };
  const body = { n: 1n, b: Buffer.from("x"), z: null, deep, list: new Array(100_000).fill("x") };
  const result = context.run({ [ADDRESSES.REQUEST_BODY]: body }, BUDGET_US);
  assert.equal(result.errorCode, undefined);
});
