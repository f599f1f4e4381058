/**
 * Environment faults on the real processor process: stdout nobody reads, a WAF budget spent on
 * every request, a ruleset that cannot load, an Agent down, slow or answering garbage, certificate
 * files removed or corrupted at runtime.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { generateSelfSigned } from "../../processor/server/index.ts";
import { startFakeAgent } from "../support/fake-agent.ts";
import { blocksAttack, rssBytes, servesBenign, waitFor } from "../support/fault.ts";
import { createClient, exchange, openStream } from "../support/grpc-client.ts";
import { getHeaders, kindOf, requestHeaders } from "../support/messages.ts";
import { spawnProcessor, startProcessor } from "../support/processor-process.ts";
import { startWafServer, TEST_RULES } from "../support/waf-server.ts";

const MAIN = join(import.meta.dirname, "..", "..", "processor", "main.ts");
const MiB = 1024 * 1024;

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address ? address.port : 0;
}

async function waitForHealth(port: number, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() - start > timeoutMs) throw new Error("processor not ready");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("environment faults", () => {
  test("stdout nobody reads: the processor keeps serving, memory bounded, lines dropped and counted", async (t) => {
    const [port, healthPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? "",
        DD_SERVICE_EXTENSION_HOST: "127.0.0.1",
        DD_SERVICE_EXTENSION_WORKERS: "1",
        DD_SERVICE_EXTENSION_TLS: "false",
        DD_SERVICE_EXTENSION_PORT: String(port),
        DD_SERVICE_EXTENSION_HEALTHCHECK_PORT: String(healthPort),
        DD_SERVICE_EXTENSION_LOG_LEVEL: "debug",
        // Bursts of 100 streams on a cold process can pass the shedding threshold: this test is
        // about stdout, so every stream must be served.
        DD_SERVICE_EXTENSION_SHED_QUEUE_DELAY: "0",
        DD_APPSEC_RULES: TEST_RULES,
        DD_APPSEC_WAF_TIMEOUT: "1s",
        DD_TRACE_AGENT_PORT: "9",
        DD_REMOTE_CONFIGURATION_ENABLED: "false",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    t.after(() => child.kill("SIGKILL"));
    child.stdout?.pause(); // never read: the pipe fills after 64 KiB
    child.stderr?.resume();
    await waitForHealth(healthPort);
    const client = createClient(`127.0.0.1:${port}`);
    t.after(() => client.close());
    // Each stream writes a debug line: thousands of them overflow the pipe many times over.
    const batch = () =>
      Promise.all(Array.from({ length: 100 }, () => servesBenign(client, 10_000)));
    for (let i = 0; i < 3; i++) await batch(); // warm-up: JIT, WAF, heap sized for 100 streams
    const before = rssBytes(child.pid ?? 0);
    for (let i = 0; i < 20; i++) {
      await batch();
    }
    await blocksAttack(client);
    const grown = rssBytes(child.pid ?? 0) - before;
    assert.ok(grown < 96 * MiB, `RSS grew by ${(grown / MiB).toFixed(1)} MiB`);
    assert.equal((await fetch(`http://127.0.0.1:${healthPort}/`)).status, 200);
    // Once read again, the processor says how many lines it dropped.
    let output = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      output += chunk;
    });
    child.stdout?.resume();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await servesBenign(client);
    await waitFor(() => output.includes("log lines dropped"), 5000, "drop notice");
    const notice = output
      .split("\n")
      .map((line) => (line.includes("log lines dropped") ? JSON.parse(line) : undefined))
      .find((line) => line !== undefined) as { dropped: number };
    assert.ok(notice.dropped > 100, `dropped ${notice.dropped}`);
  });

  test("a WAF budget spent on every request: the request passes, the timeout is counted", async (t) => {
    const waf = await startWafServer({ DD_APPSEC_RULES: TEST_RULES, DD_APPSEC_WAF_TIMEOUT: "1us" });
    t.after(() => waf.close());
    const stream = openStream(waf.client);
    const reply = await exchange(
      stream,
      requestHeaders(getHeaders("/", { "user-agent": "dd-test-scanner-log-block" }), true),
    );
    assert.equal(kindOf(reply), "requestHeaders"); // the documented fail direction: pass
    stream.cancel();
    await stream.status;
    await waitFor(() => waf.streamEnds().length > 0, 5000, "stream end");
    assert.ok(Number(waf.streamEnds()[0]?.wafTimeouts) > 0, JSON.stringify(waf.streamEnds()));
    await waitFor(() => waf.spans.length > 0, 5000, "span");
    assert.ok(Number(waf.spans[0]?.metrics["_dd.appsec.waf.timeouts"]) > 0);
  });

  test("a ruleset that fails to load stops startup with exit code 1 and a clear error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fault-rules-"));
    try {
      const rules = join(dir, "rules.json");
      writeFileSync(rules, '{"version": "2.2", "rules": [');
      const processor = spawnProcessor({
        DD_SERVICE_EXTENSION_PORT: "0",
        DD_SERVICE_EXTENSION_HEALTHCHECK_PORT: "0",
        DD_SERVICE_EXTENSION_TLS: "false",
        DD_APPSEC_RULES: rules,
      });
      assert.equal(await processor.exited, 1);
      const failure = processor.logs.find((line) => line.msg === "startup failed");
      assert.equal(failure?.code, "waf", JSON.stringify(processor.logs));
      assert.match(String(failure?.error), /rules/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the Agent down, then slow (10 s), then answering garbage: serving goes on, memory bounded", async (t) => {
    const agent = await startFakeAgent();
    t.after(() => agent.stop());
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_APPSEC_RULES: TEST_RULES,
      DD_APPSEC_WAF_TIMEOUT: "1s",
      DD_SERVICE_EXTENSION_SHED_QUEUE_DELAY: "0",
      DD_TRACE_AGENT_URL: agent.url,
      DD_APM_TRACING_ENABLED: "true", // a trace per request: the most the Agent is sent
    });
    t.after(() => processor.stop());
    const client = createClient(`127.0.0.1:${processor.grpcPort}`);
    t.after(() => client.close());
    const pid = processor.child.pid ?? 0;
    const batch = () => Promise.all(Array.from({ length: 50 }, () => servesBenign(client, 10_000)));
    // Tracing every request grows the heap to a plateau over ~20 s whatever the Agent does
    // (measured with a healthy one): warm up with a healthy Agent first, then compare.
    const warmUntil = Date.now() + 10_000;
    while (Date.now() < warmUntil) await batch();
    const before = rssBytes(pid);
    const growth: string[] = [];
    for (const [name, setUp] of [
      ["down", async () => {}],
      [
        "slow",
        async () => {
          await agent.up();
          agent.setFault({ delayMs: 10_000 });
        },
      ],
      ["garbage", async () => agent.setFault({ garbage: true })],
    ] as const) {
      await setUp();
      // Long enough for several of dd-trace's flushes (every 2 s) to meet the fault.
      const until = Date.now() + 5000;
      while (Date.now() < until) await batch();
      await blocksAttack(client);
      growth.push(`${name} ${((rssBytes(pid) - before) / MiB).toFixed(1)} MiB`);
      // With a healthy Agent, RSS still grew by up to 67 MiB after this warm-up on its way to
      // its plateau (measured over 40 s): a fault that buffered traces without bound would
      // pass that within the 15 s of the three faults.
      assert.ok(rssBytes(pid) - before < 128 * MiB, `RSS after Agent ${growth.join(", ")}`);
    }
    assert.equal((await fetch(`http://127.0.0.1:${processor.healthPort}/`)).status, 200);
    assert.equal(processor.child.exitCode, null);
  });

  test("certificate files removed, then corrupted at runtime: the old certificate keeps serving, logged", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "fault-tls-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const material = generateSelfSigned();
    const certFile = join(dir, "tls.crt");
    const keyFile = join(dir, "tls.key");
    writeFileSync(certFile, material.cert);
    writeFileSync(keyFile, material.key);
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS_CERT_FILE: certFile,
      DD_SERVICE_EXTENSION_TLS_KEY_FILE: keyFile,
      DD_SERVICE_EXTENSION_TLS_RELOAD_INTERVAL: "0.1",
      DD_APPSEC_RULES: TEST_RULES,
    });
    t.after(() => processor.stop());
    const target = `127.0.0.1:${processor.grpcPort}`;
    const servesOverTls = async () => {
      const client = createClient(target, { ca: material.cert });
      try {
        await servesBenign(client);
      } finally {
        client.close();
      }
    };
    await servesOverTls();
    rmSync(certFile);
    rmSync(keyFile);
    await processor.waitForLog(
      (line) => line.msg === "TLS reload failed; keeping the current certificate",
    );
    await servesOverTls(); // a new connection: still the old certificate
    writeFileSync(certFile, "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n");
    writeFileSync(keyFile, material.key.slice(0, 100));
    await processor.waitForLog(
      (line) =>
        line.msg === "TLS reload failed; keeping the current certificate" &&
        /invalid/.test(String(line.error)),
    );
    await servesOverTls();
    assert.equal(processor.child.exitCode, null);
  });
});
