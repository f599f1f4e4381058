/**
 * The processor with several worker processes (DD_SERVICE_EXTENSION_WORKERS=2): connections spread
 * over the workers, health answers for the pod, SIGTERM drains every worker, and a crashed worker
 * is replaced while the other keeps serving.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createClient, exchange, openStream, status } from "../support/grpc-client.ts";
import { getHeaders, kindOf, requestHeaders, responseHeaders } from "../support/messages.ts";
import {
  getHealth,
  type ProcessorProcess,
  spawnProcessor,
  startProcessor,
} from "../support/processor-process.ts";

const TWO_WORKERS = {
  DD_SERVICE_EXTENSION_TLS: "false",
  DD_SERVICE_EXTENSION_WORKERS: "2",
  DD_SERVICE_EXTENSION_LOG_LEVEL: "debug",
};

/** The pids of the workers that announced their listener. */
function workerPids(processor: ProcessorProcess): number[] {
  return processor.logs
    .filter((line) => line.msg === "ext_proc server listening")
    .map((line) => Number(line.pid));
}

/** A full headers-only exchange on a new connection, closed whatever happens. */
async function exchangeOnNewConnection(processor: ProcessorProcess, path: string) {
  const client = createClient(`127.0.0.1:${processor.grpcPort}`);
  try {
    const stream = openStream(client);
    assert.equal(
      kindOf(await exchange(stream, requestHeaders(getHeaders(path), true))),
      "requestHeaders",
    );
    assert.equal(
      kindOf(await exchange(stream, responseHeaders({ ":status": "200" }, true))),
      "responseHeaders",
    );
    assert.equal((await stream.status).code, status.OK);
  } finally {
    client.close();
  }
}

describe("two workers", () => {
  test("both workers serve; health is ready only once both are", async (t) => {
    const processor = await startProcessor(TWO_WORKERS);
    t.after(() => processor.stop());
    const pids = workerPids(processor);
    assert.equal(new Set(pids).size, 2, "two distinct worker processes listen");
    assert.ok(!pids.includes(processor.child.pid ?? -1), "the primary does not serve gRPC");
    assert.equal((await getHealth(processor.healthPort ?? 0)).status, 200);
    // The primary hands connections to the workers in turn.
    for (let i = 0; i < 6; i++) await exchangeOnNewConnection(processor, `/spread/${i}`);
    const served = new Set(
      processor.logs.filter((line) => line.msg === "stream end").map((line) => Number(line.pid)),
    );
    assert.deepEqual([...served].sort(), [...pids].sort(), "every worker served streams");
  });

  test("a crashed worker is logged and replaced; the other keeps serving", async (t) => {
    const processor = await startProcessor(TWO_WORKERS);
    t.after(() => processor.stop());
    const [victim] = workerPids(processor);
    process.kill(victim ?? -1, "SIGKILL");
    await processor.waitForLog(
      (line) => line.msg === "worker exited unexpectedly: starting a replacement",
    );
    // Served meanwhile by the surviving worker; the pod stays ready.
    await exchangeOnNewConnection(processor, "/during-restart");
    assert.equal((await getHealth(processor.healthPort ?? 0)).status, 200);
    await processor.waitForLog(() => workerPids(processor).length === 3, 20_000);
    assert.equal(new Set(workerPids(processor)).size, 3, "a third worker process was started");
    for (let i = 0; i < 4; i++) await exchangeOnNewConnection(processor, `/after/${i}`);
  });

  test("SIGTERM drains every worker: open streams finish, then the pod exits 0", async (t) => {
    const processor = await startProcessor(TWO_WORKERS);
    t.after(() => processor.stop());
    // One open stream on each worker (two connections, handed out in turn).
    const clients = [0, 1].map(() => createClient(`127.0.0.1:${processor.grpcPort}`));
    t.after(() => {
      for (const client of clients) client.close();
    });
    const streams = clients.map((client) => openStream(client));
    for (const stream of streams) {
      await exchange(
        stream,
        requestHeaders(getHeaders("/slow", { "content-type": "text/plain" }), true),
      );
    }
    processor.kill("SIGTERM");
    await processor.waitForLog((line) => String(line.msg).startsWith("shutting down"));
    assert.equal((await getHealth(processor.healthPort ?? 0)).status, 503);
    for (const stream of streams) {
      assert.equal(
        kindOf(await exchange(stream, responseHeaders({ ":status": "200" }, true))),
        "responseHeaders",
      );
    }
    for (const client of clients) client.close();
    assert.equal(await processor.exited, 0);
    assert.ok(processor.logs.some((line) => line.msg === "shutdown complete"));
  });

  test("a worker that cannot start stops the pod with its exit code", async (t) => {
    const processor = spawnProcessor({
      ...TWO_WORKERS,
      DD_SERVICE_EXTENSION_PORT: "0",
      DD_SERVICE_EXTENSION_HEALTHCHECK_PORT: "0",
      DD_APPSEC_RULES: "/nonexistent/rules.json",
    });
    t.after(() => processor.stop());
    assert.equal(await processor.exited, 1);
    assert.ok(processor.logs.some((line) => line.msg === "worker failed during startup: stopping"));
  });
});
