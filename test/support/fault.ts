/**
 * Checks shared by the fault suite (test/fault): after each fault the processor is alive, serves
 * other streams, and gives its memory back.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { type Client, exchange, openStream } from "./grpc-client.ts";
import { getHeaders, kindOf, requestHeaders, responseHeaders } from "./messages.ts";

/** Polls `predicate` every 10 ms until true; throws after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The test process's heap after full collections, in bytes. The fault suite runs with
 * `--expose-gc` (package.json), so an in-process server's leftovers show up here.
 */
export async function settledHeapBytes(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, "run with node --expose-gc");
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

/** The resident set of process `pid` (VmRSS of /proc/PID/status), in bytes. */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Heap growth tolerated after a fault: the WAF, caches and grpc-js keep some state. */
export const HEAP_SLACK_BYTES = 24 * 1024 * 1024;

/** Asserts the heap came back within {@link HEAP_SLACK_BYTES} of `baseline`. */
export async function assertHeapBack(baseline: number, what: string): Promise<void> {
  const after = await settledHeapBytes();
  const grown = after - baseline;
  assert.ok(
    grown < HEAP_SLACK_BYTES,
    `${what}: heap grew by ${(grown / 2 ** 20).toFixed(1)} MiB (baseline ${(baseline / 2 ** 20).toFixed(1)} MiB)`,
  );
}

/** A benign headers-only exchange on `client`: CONTINUE both ways, then OK. */
export async function servesBenign(client: Client, timeoutMs = 10_000): Promise<void> {
  const stream = openStream(client);
  assert.equal(
    kindOf(await exchange(stream, requestHeaders(getHeaders("/ok"), true), timeoutMs)),
    "requestHeaders",
  );
  assert.equal(
    kindOf(await exchange(stream, responseHeaders({ ":status": "200" }), timeoutMs)),
    "responseHeaders",
  );
  stream.end();
  assert.equal((await stream.status).code, 0);
}

/** An attack from the test rules' blocking scanner: ImmediateResponse. */
export async function blocksAttack(client: Client, timeoutMs = 10_000): Promise<void> {
  const stream = openStream(client);
  const reply = await exchange(
    stream,
    requestHeaders(getHeaders("/", { "user-agent": "dd-test-scanner-log-block" }), true),
    timeoutMs,
  );
  assert.equal(kindOf(reply), "immediateResponse");
  await stream.status;
}

/**
 * Runs `fault` while benign streams keep going on `client`, and checks that they were all served
 * (during and after): the fault must not slow the others down to a stop.
 */
export async function whileServing<T>(client: Client, fault: () => Promise<T>): Promise<T> {
  let running = true;
  let served = 0;
  const others = (async () => {
    while (running) {
      await servesBenign(client);
      served++;
    }
  })();
  try {
    return await fault();
  } finally {
    running = false;
    await others;
    assert.ok(served > 0, "no other stream was served while the fault ran");
  }
}
