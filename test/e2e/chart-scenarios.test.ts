/**
 * End to end, per chart scenario: `helm template` with each `chart/ci/*-values.yaml`, the real
 * processor started with the rendered Deployment's environment, and the Envoy-behaving client
 * configured with the rendered ext_proc filter. Each test asserts what Envoy would give the user.
 *
 * Local changes to the rendered env (chart-scenario.ts `localEnv`): ephemeral ports on 127.0.0.1,
 * a self-generated certificate, the fake Agent, stand-ins for mounted files, and debug logs (to read
 * the processor's per-stream verdict line). The "blocking rules" stack also swaps the ruleset for
 * test/fixtures/rules/test-rules.json, whose rules block on every address a proxy feeds.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ciValuesFiles, ROOT } from "../chart/support/helm.ts";
import type { ExchangeResult, HttpRequest } from "../support/envoy/index.ts";
import { createEnvoyFilter, headerValue } from "../support/envoy/index.ts";
import { type FakeAgent, startFakeAgent } from "../support/fake-agent.ts";
import {
  type ChartScenario,
  clusterTls,
  localEnv,
  renderScenario,
} from "./support/chart-scenario.ts";
import { type Stack, startStack } from "./support/stack.ts";
import { attacks, benign, form, json, largeBody, multipart } from "./support/traffic.ts";

const TEST_RULES = join(ROOT, "test/fixtures/rules/test-rules.json");
const FIXTURES = join(ROOT, "test/e2e/fixtures");
/** Local files standing in for the ConfigMap body-inspection-values.yaml mounts. */
const MOUNTS = {
  "/etc/aap-extproc/rules/rules.json": TEST_RULES,
  "/etc/aap-extproc/rules/blocked.json": join(FIXTURES, "blocked.json"),
  "/etc/aap-extproc/rules/blocked.html": join(FIXTURES, "blocked.html"),
};

let agent: FakeAgent;
before(async () => {
  agent = await startFakeAgent();
});
after(() => agent.stop());

/** What the rendered scenario implies for the user. */
function expectations(scenario: ChartScenario) {
  const { extProc, env } = scenario;
  const limit = Number(env.DD_APPSEC_BODY_PARSING_SIZE_LIMIT ?? "0");
  return {
    blocks: !extProc.observabilityMode,
    /** The processor can only get bodies through mode_override (the chart sends none statically). */
    bodies: !extProc.observabilityMode && extProc.allowModeOverride && limit > 0,
    limit,
    customPages: env.DD_APPSEC_HTTP_BLOCKED_TEMPLATE_JSON !== undefined,
    /** Envoy holds the response until its body is analysed (BUFFERED_PARTIAL override). */
    responseBuffered: env.DD_SERVICE_EXTENSION_RESPONSE_BODY_MODE === "buffered-partial",
    failOpen: extProc.failureModeAllow,
  };
}

/** Asserts the request was blocked before the backend, with Datadog's (or the custom) block page. */
function assertBlocked(
  stack: Stack,
  result: ExchangeResult,
  status: number,
  custom: boolean,
  before: number,
) {
  assert.equal(
    result.status,
    status,
    `expected a ${status} block, got ${result.status} (failure: ${result.failure}): ${result.text.slice(0, 200)}`,
  );
  assert.equal(result.localReply, "immediate");
  assert.equal(result.reachedUpstream, false);
  assert.equal(stack.backendCalls.length, before, "the backend never sees a blocked request");
  const type = headerValue(result.headers, "content-type") ?? "";
  if (type.includes("json")) {
    const page = JSON.parse(result.text) as Record<string, unknown>;
    if (custom) assert.equal(page.by, "aap-extproc e2e custom template");
    else assert.match(JSON.stringify(page), /You've been blocked/);
  } else {
    assert.match(type, /text\/html/);
    assert.match(result.text, custom ? /aap-extproc e2e custom template/ : /You've been blocked/);
  }
  assert.equal(headerValue(result.headers, "content-length"), String(result.body.length));
}

/** Asserts the request went through to the backend untouched by a verdict. */
function assertPassed(stack: Stack, result: ExchangeResult, before: number) {
  assert.equal(
    result.localReply,
    undefined,
    `unexpected local reply ${result.status}: ${result.text.slice(0, 200)}`,
  );
  assert.equal(result.reset, false);
  assert.equal(result.reachedUpstream, true);
  assert.equal(stack.backendCalls.length, before + 1);
}

for (const valuesFile of ciValuesFiles()) {
  describe(valuesFile, () => {
    let scenario: ChartScenario;
    let failClosed: ChartScenario;
    let rendered: Stack;
    let blocking: Stack;
    let expect: ReturnType<typeof expectations>;

    let tlsDir: string;

    before(async () => {
      scenario = await renderScenario(valuesFile);
      failClosed = await renderScenario(valuesFile, { envoyFilter: { failOpen: false } });
      expect = expectations(scenario);
      tlsDir = mkdtempSync(join(tmpdir(), "aap-e2e-tls-"));
      const base = {
        agentPort: agent.port,
        mounts: MOUNTS,
        extra: { DD_SERVICE_EXTENSION_LOG_LEVEL: "debug" },
        tlsDir,
      };
      rendered = await startStack(scenario, localEnv(scenario, base));
      blocking = await startStack(scenario, localEnv(scenario, { ...base, rules: TEST_RULES }));
    });
    after(async () => {
      await rendered?.stop();
      await blocking?.stop();
      rmSync(tlsDir, { recursive: true, force: true });
    });

    test("the rendered filter and env are what the test relies on", () => {
      assert.equal(
        failClosed.extProc.failureModeAllow,
        false,
        "envoyFilter.failOpen=false renders failure_mode_allow false",
      );
      assert.ok(scenario.extProc.messageTimeout, "message_timeout is rendered");
      assert.equal(
        scenario.env.DD_SERVICE_EXTENSION_OBSERVABILITY_MODE,
        String(scenario.extProc.observabilityMode),
      );
    });

    test("benign traffic reaches the backend with its headers", async () => {
      for (const request of benign) {
        const before = rendered.backendCalls.length;
        const result = await rendered.send(request);
        assertPassed(rendered, result, before);
        assert.equal(result.status, 200);
        const forwarded = rendered.backendCalls.at(-1);
        assert.equal(
          headerValue(forwarded?.headers ?? [], "user-agent"),
          headerValue(Object.entries(request.headers ?? {}), "user-agent"),
        );
        assert.equal(forwarded?.method, request.method);
        const echo = JSON.parse(result.text) as { bodyBytes: number };
        assert.equal(
          echo.bodyBytes,
          typeof request.body === "string" ? Buffer.byteLength(request.body) : 0,
        );
      }
    });

    test("the scanner user agent is blocked with the recommended rules (JSON, or HTML when asked)", async () => {
      for (const accept of ["application/json", "text/html"]) {
        const before = rendered.backendCalls.length;
        const result = await rendered.send({
          method: "GET",
          path: "/",
          headers: { host: "shop.example.com", "user-agent": "dd-test-scanner-log-block", accept },
        });
        if (!expect.blocks) {
          assertPassed(rendered, result, before);
          continue;
        }
        assertBlocked(rendered, result, 403, expect.customPages, before);
        assert.match(
          headerValue(result.headers, "content-type") ?? "",
          accept === "text/html" ? /html/ : /json/,
        );
      }
    });

    test("with the recommended rules, an XSS or SQLi detection is monitored, not blocked", async () => {
      const monitorOnly = [attacks.xssQuery, attacks.sqliQuery];
      const mark = endCount(rendered);
      for (const request of monitorOnly) {
        const before = rendered.backendCalls.length;
        const result = await rendered.send(request);
        // body-inspection-values mounts its own ruleset (test-rules here), which does not block these either.
        assertPassed(rendered, result, before);
      }
      if (valuesFile.includes("body-inspection")) return;
      const family = (line: Record<string, unknown>, prefix: string) =>
        (line.rules as string[]).some((id) => id.startsWith(prefix));
      const lines = await streamEnds(
        rendered,
        mark,
        2,
        (l) => family(l, "crs-941") || family(l, "crs-942"),
      );
      assert.ok(
        lines.some((l) => family(l, "crs-941")),
        "an XSS rule matched",
      );
      assert.ok(
        lines.some((l) => family(l, "crs-942")),
        "an SQLi rule matched",
      );
      assert.ok(lines.every((l) => l.blocked === false));
    });

    test("blocking rules: attacks in the query and headers are blocked before the backend", async () => {
      const cases: Array<[HttpRequest, number]> = [
        [attacks.blockingQuery, 418],
        [attacks.phpQuery, 403],
        [attacks.arachniHeader, 403],
        [attacks.blockedPath, 403],
        [attacks.blockJson429, 429],
        [attacks.blockHtml401, 401],
      ];
      for (const [request, status] of cases) {
        const before = blocking.backendCalls.length;
        const result = await blocking.send(request);
        if (expect.blocks) assertBlocked(blocking, result, status, expect.customPages, before);
        else assertPassed(blocking, result, before);
      }
    });

    test("blocking rules: a redirect action becomes a local redirect", async () => {
      const before = blocking.backendCalls.length;
      const result = await blocking.send(attacks.redirect);
      if (!expect.blocks) return assertPassed(blocking, result, before);
      assert.equal(result.status, 302);
      assert.match(headerValue(result.headers, "location") ?? "", /^\/blocked\?id=/);
      assert.equal(result.reachedUpstream, false);
    });

    test("blocking rules: attacks in JSON, form and multipart bodies are blocked when bodies are inspected", async () => {
      const bodies = [
        json({ payload: "match-request-body" }),
        form("payload=match-request-body"),
        multipart([{ name: "payload", value: "match-request-body" }]),
        multipart([
          { name: "upload", filename: "match-request-filename.php", value: "<?php echo 1; ?>" },
        ]),
        json({ search: "$_GET['x']" }),
      ];
      for (const request of bodies) {
        const before = blocking.backendCalls.length;
        const result = await blocking.send(request);
        if (expect.bodies) {
          assertBlocked(blocking, result, 403, expect.customPages, before);
          // STREAMED (the processor's override): the headers went upstream before the verdict.
          assert.ok(result.sent.includes("requestBody"));
        } else {
          assertPassed(blocking, result, before);
          assert.ok(!result.sent.includes("requestBody"), "no body is sent to the processor");
        }
      }
    });

    test("blocking rules: response-side triggers replace the backend's response", async () => {
      for (const [path, status] of [
        ["/status/555", 403],
        ["/response-header/match-response-header", 418],
      ] as const) {
        const before = blocking.backendCalls.length;
        const result = await blocking.send({
          method: "GET",
          path,
          headers: { host: "shop.example.com", "user-agent": "curl/8" },
        });
        assert.equal(blocking.backendCalls.length, before + 1, "the backend answered");
        if (!expect.blocks) {
          assert.equal(result.localReply, undefined);
          continue;
        }
        assert.equal(result.status, status);
        assert.equal(result.localReply, "immediate");
      }
    });

    test("blocking rules: a response body trigger stops the leak (block page when buffered, reset when streamed)", async () => {
      const before = blocking.backendCalls.length;
      const result = await blocking.send({
        method: "GET",
        path: "/json-response/match-response-body",
        headers: { host: "shop.example.com", "user-agent": "curl/8" },
      });
      assert.equal(blocking.backendCalls.length, before + 1);
      if (!expect.bodies) {
        assert.equal(result.status, 200);
        assert.match(result.text, /match-response-body/);
        return;
      }
      if (expect.responseBuffered) {
        // BUFFERED_PARTIAL: the response headers were held, so the user gets the block page.
        assert.equal(result.localReply, "immediate");
        assert.equal(result.status, 403);
        assert.equal(result.reset, false);
      } else {
        // STREAMED: Envoy has already sent the response headers when the verdict arrives, so it
        // can only reset the stream (docs/envoy-filter.md#replies).
        assert.ok(result.reset || result.localReply === "immediate", `status ${result.status}`);
      }
      assert.doesNotMatch(result.text, /match-response-body/, "the response body is not delivered");
    });

    test("a body larger than the processor's limit: analysed up to the limit, forwarded whole", async () => {
      if (!expect.bodies) return;
      // What is analysed is under test here, not how fast: parsing a body of the limit's size can
      // take longer than the rendered 200 ms message_timeout on a loaded 2-core CI machine, and
      // Envoy would then fail open. Latency is measured by the benchmarks instead.
      const patient = blocking.filterFor(
        (await renderScenario(valuesFile, { envoyFilter: { messageTimeout: "10s" } })).extProc,
      );
      const early = largeBody(expect.limit, "start");
      const late = largeBody(expect.limit, "end");
      let before = blocking.backendCalls.length;
      const mark = endCount(blocking);
      const blockedEarly = await blocking.send(early, patient);
      if (blockedEarly.status !== 403) {
        const [line] = await streamEnds(blocking, mark, 1);
        assert.fail(`not blocked; the processor logged ${JSON.stringify(line)}`);
      }
      assertBlocked(blocking, blockedEarly, 403, expect.customPages, before);
      before = blocking.backendCalls.length;
      const passedLate = await blocking.send(late, patient);
      assertPassed(blocking, passedLate, before);
      const forwarded = blocking.backendCalls.at(-1);
      assert.equal(
        forwarded?.body.length,
        Buffer.byteLength(late.body as string),
        "forwarded whole",
      );
      assert.equal(forwarded?.chunked, true, "STREAMED: no Content-Length upstream");
    });

    test("observability mode never blocks, yet the processor still detects", async () => {
      if (expect.blocks) return;
      const mark = endCount(blocking);
      const result = await blocking.send({ ...attacks.arachniHeader });
      assert.equal(result.status, 200);
      assert.equal(result.repliesReceived, 0, "the processor writes nothing in observability mode");
      const [line] = await streamEnds(blocking, mark, 1, (l) =>
        (l.rules as string[]).includes("tst-ua-arachni"),
      );
      assert.equal(line?.observing, true);
      assert.equal(line?.blocked, false);
    });

    test("a slow processor (paused past message_timeout): fail-open and fail-closed differ as rendered", async () => {
      const closed = blocking.filterFor(failClosed.extProc);
      await blocking.send(benign[0] as HttpRequest, closed); // connect before pausing
      blocking.processor.signalAll("SIGSTOP"); // the primary and its workers
      try {
        const started = performance.now();
        const open = await blocking.send(attacks.arachniHeader);
        const failClosedResult = await blocking.send(attacks.arachniHeader, closed);
        if (!expect.blocks) {
          assert.ok(performance.now() - started < 1000, "observability mode never waits");
          assert.equal(open.status, 200);
          assert.equal(failClosedResult.status, 200);
          return;
        }
        assert.equal(open.failure, "timeout");
        assert.equal(open.status, 200, "failOpen: the attack goes through unexamined");
        assert.equal(open.reachedUpstream, true);
        assert.equal(failClosedResult.failure, "timeout");
        assert.equal(failClosedResult.status, 504, "failOpen=false: 504");
        assert.equal(failClosedResult.reachedUpstream, false);
      } finally {
        blocking.processor.signalAll("SIGCONT");
      }
    });

    test("a processor that is down: fail-open continues, fail-closed answers 500", async () => {
      const closed = blocking.filterFor(failClosed.extProc);
      blocking.processor.kill("SIGKILL");
      await blocking.processor.exited;
      const open = await blocking.send(benign[0] as HttpRequest);
      const shut = await blocking.send(benign[0] as HttpRequest, closed);
      assert.equal(open.status, 200);
      assert.equal(open.reachedUpstream, true);
      assert.equal(shut.status, expect.blocks ? 500 : 200);
      assert.equal(shut.reachedUpstream, !expect.blocks);
    });
  });
}

describe("ci/mutual-tls-values.yaml: only a client with the chart's client certificate is served", () => {
  let scenario: ChartScenario;
  let stack: Stack;
  let tlsDir: string;
  before(async () => {
    scenario = await renderScenario("ci/mutual-tls-values.yaml");
    tlsDir = mkdtempSync(join(tmpdir(), "aap-e2e-tls-"));
    stack = await startStack(scenario, localEnv(scenario, { agentPort: agent.port, tlsDir }));
  });
  after(async () => {
    await stack?.stop();
    rmSync(tlsDir, { recursive: true, force: true });
  });

  test("Envoy's cluster, with the SDS client certificate, is served", async () => {
    const tls = clusterTls(scenario);
    assert.ok(tls?.clientCertificate, "the rendered cluster presents a client certificate");
    const result = await stack.send(benign[0] as HttpRequest);
    assert.equal(result.status, 200);
  });

  test("a client that trusts the CA but has no certificate is refused; fail-closed Envoy answers 500", async () => {
    const tls = clusterTls(scenario);
    assert.ok(tls?.ca);
    const { clientCertificate: _, ...withoutCertificate } = tls;
    const failClosed = await renderScenario("ci/mutual-tls-values.yaml", {
      envoyFilter: { failOpen: false },
    });
    const anonymous = createEnvoyFilter(failClosed.extProc, {
      target: `127.0.0.1:${stack.processor.grpcPort}`,
      tls: withoutCertificate,
    });
    try {
      const before = stack.backendCalls.length;
      const result = await anonymous.exchange({
        request: benign[0] as HttpRequest,
        upstream: async () => ({ status: 200, headers: [], body: "" }),
      });
      assert.equal(result.status, 500);
      assert.equal(result.reachedUpstream, false);
      assert.equal(stack.backendCalls.length, before);
    } finally {
      anonymous.close();
    }
  });
});

const isStreamEnd = (line: Record<string, unknown>) => line.msg === "stream end";

/** Number of per-stream debug lines logged so far. */
function endCount(stack: Stack): number {
  return stack.processor.logs.filter(isStreamEnd).length;
}

/** Waits for `count` per-stream debug lines (matching `predicate`) logged after the first `since`. */
async function streamEnds(
  stack: Stack,
  since: number,
  count: number,
  predicate: (line: Record<string, unknown>) => boolean = () => true,
): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = stack.processor.logs.filter(isStreamEnd).slice(since).filter(predicate);
    if (lines.length >= count || Date.now() > deadline) return lines;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
