/**
 * The try-it gateway (`npm run demo`, tools/try-it/): what its README promises, checked with curl
 * against the real CLI.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { after, before, describe, test } from "node:test";
import { blockAllRuleset } from "../../tools/try-it/block-all.ts";
import { DEMO_FILTER_CONFIG } from "../../tools/try-it/gateway.ts";
import { decodeEnvoyFilter } from "../chart/support/envoy-config.ts";
import { render } from "../chart/support/helm.ts";
import { curl, type DemoProcess, startDemo } from "./support/demo-process.ts";

const XSS = "/?q=<script>alert(1)</script>";

test("the gateway's filter config is the chart's default EnvoyFilter", async () => {
  const envoyFilter = (await render("helm3")).find((obj) => obj.kind === "EnvoyFilter");
  assert.ok(envoyFilter);
  const chart = decodeEnvoyFilter(envoyFilter).extProc;
  const demo = DEMO_FILTER_CONFIG;
  assert.deepEqual(demo.processingMode, chart.processingMode);
  assert.equal(demo.allowModeOverride, chart.allowModeOverride);
  assert.equal(demo.failureModeAllow, chart.failureModeAllow);
  assert.deepEqual(demo.messageTimeout, chart.messageTimeout);
  assert.equal(demo.observabilityMode, chart.observabilityMode);
  assert.deepEqual(demo.grpcService?.initialMetadata, chart.grpcService?.initialMetadata);
});

test("--block-all makes every recommended rule block", () => {
  const ruleset = blockAllRuleset();
  assert.ok(ruleset.rules.length > 100);
  assert.ok(
    ruleset.rules.every((rule) => rule.on_match?.length === 1 && rule.on_match[0] === "block"),
  );
});

describe("recommended rules (npm run demo)", () => {
  let demo: DemoProcess;
  before(async () => {
    demo = await startDemo();
  });
  after(() => demo?.stop());

  test("an XSS query reaches the echo backend and is logged with the XSS rule", async () => {
    const reply = await curl([`localhost:${demo.port}${XSS}`]);
    assert.equal(reply.status, 200);
    const echo = JSON.parse(reply.body) as { echo: boolean; path: string };
    assert.equal(echo.echo, true);
    assert.equal(echo.path, XSS);
    const [entry] = await demo.waitForEntries(1);
    assert.equal(entry?.verdict, "flagged");
    assert.ok(
      entry?.rules.some((id) => id.startsWith("crs-941")),
      JSON.stringify(entry),
    );
    assert.equal(entry?.reachedBackend, true);
  });

  test("the scanner user agent is blocked", async () => {
    const reply = await curl(["-A", "dd-test-scanner-log-block", `localhost:${demo.port}/`]);
    assert.equal(reply.status, 403);
    assert.match(reply.body, /You've been blocked/);
    const entries = await demo.waitForEntries(2);
    assert.equal(entries[1]?.verdict, "blocked");
    assert.deepEqual(entries[1]?.rules, ["ua0-600-56x"]);
  });

  test("speaks HTTP/2 cleartext (prior knowledge) and forwards bodies", async () => {
    const reply = await curl([
      "--http2-prior-knowledge",
      "-H",
      "content-type: application/json",
      "-d",
      '{"name":"ada"}',
      `localhost:${demo.port}/api`,
    ]);
    assert.equal(reply.version, "2");
    assert.equal(reply.status, 200);
    const echo = JSON.parse(reply.body) as { method: string; body: string };
    assert.equal(echo.method, "POST");
    assert.equal(echo.body, '{"name":"ada"}');
  });

  test("listens on 127.0.0.1 only", async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === "IPv4" && !address.internal);
    if (external === undefined) return; // no other interface to probe
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(demo.port, external.address);
      socket.once("connect", () => {
        socket.destroy();
        resolve(false);
      });
      socket.once("error", () => resolve(true));
    });
    assert.ok(refused, `reachable on ${external.address}`);
  });
});

describe("every detection blocks (npm run demo -- --block-all)", () => {
  let demo: DemoProcess;
  before(async () => {
    demo = await startDemo(["--block-all"]);
  });
  after(() => demo?.stop());

  test("the XSS query gets the block page (JSON, HTML when asked)", async () => {
    const json = await curl([`localhost:${demo.port}${XSS}`]);
    assert.equal(json.status, 403);
    assert.match(JSON.parse(json.body).errors[0].title, /You've been blocked/);
    const html = await curl(["-H", "accept: text/html", `localhost:${demo.port}${XSS}`]);
    assert.equal(html.status, 403);
    assert.match(html.body, /<title>You've been blocked<\/title>/);
    const entries = await demo.waitForEntries(2);
    assert.ok(entries.every((e) => e.verdict === "blocked" && !e.reachedBackend));
  });

  test("the scanner user agent is blocked too; a benign request is not", async () => {
    assert.equal(
      (await curl(["-A", "dd-test-scanner-log-block", `localhost:${demo.port}/`])).status,
      403,
    );
    assert.equal((await curl([`localhost:${demo.port}/products?page=2`])).status, 200);
  });

  test("AAP_DEMO_BLOCK_ALL=1 is the same switch", async () => {
    const other = await startDemo([], { AAP_DEMO_BLOCK_ALL: "1" });
    try {
      assert.equal((await curl([`localhost:${other.port}${XSS}`])).status, 403);
    } finally {
      await other.stop();
    }
  });
});
