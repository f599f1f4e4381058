/**
 * The load generator against a fake ext_proc server: per scenario and server behaviour, exactly the
 * messages Envoy would send, and blocks, errors and early ends counted right. Counts only: nothing
 * here depends on how fast anything runs.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { ProcessingMode_BodySendMode as Mode } from "../../processor/gen/envoy/extensions/filters/http/ext_proc/v3/processing_mode_pb.ts";
import { type FakePolicy, startFakeExtProc } from "./fake-ext-proc.ts";
import { Generators } from "./generators.ts";
import { Load, type WindowResult } from "./load.ts";
import { jsonOfSize, planOf, scenarioNamed } from "./scenarios.ts";

const STREAMS = 12;
const SCANNER = "dd-test-scanner-log-block";
const PROFILE_BYTES = scenarioNamed("respjson")?.response.body?.length ?? 0;
const HTML_BYTES = scenarioNamed("benign")?.response.body?.length ?? 0;
const FORM_BYTES = scenarioNamed("form")?.request.body?.length ?? 0;

function plan(name: string) {
  const scenario = scenarioNamed(name);
  if (scenario === undefined) throw new Error(name);
  return planOf(scenario, 16 * 1024);
}

/** Runs `STREAMS` streams of `scenario` in a closed loop; returns the window and the fake's view. */
async function drive(scenario: string, policy: FakePolicy) {
  const fake = await startFakeExtProc(policy);
  const load = new Load({
    target: fake.target,
    connections: 2,
    plan: plan(scenario),
    timeoutMs: 10_000,
    verifyReplies: 1000,
  });
  try {
    await load.connect();
    load.mark();
    load.run({ kind: "closed", concurrency: 3, maxStreams: STREAMS });
    await load.drain(10_000);
    return { result: load.stop(), streams: fake.streams };
  } finally {
    load.close();
    await fake.stop();
  }
}

function assertCounts(result: WindowResult, expected: Partial<WindowResult>) {
  const { streams, blocked, errors, endedEarly, mismatches } = result;
  assert.deepEqual(
    { streams, blocked, errors, endedEarly, mismatches },
    { streams: STREAMS, blocked: 0, errors: 0, endedEarly: 0, mismatches: 0, ...expected },
    result.firstError,
  );
}

const cases: Array<{
  name: string;
  scenario: string;
  policy: FakePolicy;
  messages: string[];
  counts?: Partial<WindowResult>;
}> = [
  {
    name: "benign GET: headers both ways, no body asked",
    scenario: "benign",
    policy: { blockUserAgent: SCANNER },
    messages: ["requestHeaders", "responseHeaders"],
  },
  {
    name: "attack GET: blocked on the request headers, nothing more sent",
    scenario: "attack",
    policy: { blockUserAgent: SCANNER },
    messages: ["requestHeaders"],
    counts: { blocked: STREAMS },
  },
  {
    name: "64 KiB JSON, STREAMED: four 16 KiB chunks, each answered, the last ends the body",
    scenario: "json64k",
    policy: { requestBodyMode: Mode.STREAMED },
    messages: [
      "requestHeaders",
      "requestBody:16384",
      "requestBody:16384",
      "requestBody:16384",
      "requestBody:16384:eos",
      "responseHeaders",
    ],
  },
  {
    name: "1 KiB JSON, BUFFERED: the body in one message",
    scenario: "json1k",
    policy: { requestBodyMode: Mode.BUFFERED },
    messages: ["requestHeaders", "requestBody:1024:eos", "responseHeaders"],
  },
  {
    name: "64 KiB JSON, BUFFERED_PARTIAL: the body in one message",
    scenario: "json64k",
    policy: { requestBodyMode: Mode.BUFFERED_PARTIAL },
    messages: ["requestHeaders", "requestBody:65536:eos", "responseHeaders"],
  },
  {
    name: "1 KiB JSON, body not asked for: not sent",
    scenario: "json1k",
    policy: {},
    messages: ["requestHeaders", "responseHeaders"],
  },
  {
    name: "form POST, both bodies asked for",
    scenario: "form",
    policy: { requestBodyMode: Mode.STREAMED, responseBodyMode: Mode.STREAMED },
    messages: [
      "requestHeaders",
      `requestBody:${FORM_BYTES}:eos`,
      "responseHeaders",
      `responseBody:${HTML_BYTES}:eos`,
    ],
  },
  {
    name: "JSON response, body asked for by the response headers' reply",
    scenario: "respjson",
    policy: { responseBodyMode: Mode.STREAMED },
    messages: ["requestHeaders", "responseHeaders", `responseBody:${PROFILE_BYTES}:eos`],
  },
];

describe("the generator sends what Envoy would", () => {
  for (const c of cases) {
    test(c.name, async () => {
      const { result, streams } = await drive(c.scenario, c.policy);
      assertCounts(result, c.counts ?? {});
      assert.equal(streams.length, STREAMS);
      for (const stream of streams) {
        assert.deepEqual(stream.messages, c.messages);
        assert.equal(stream.integration, "1");
      }
      const replies = streams.reduce((sum, s) => sum + s.messages.length, 0);
      assert.equal(result.verified, replies, "every reply of a short run is decoded in full");
      const half = streams.filter((s) => s.end === "half-close").length;
      if (!c.counts?.blocked) assert.equal(half, STREAMS, "each stream half-closed when done");
    });
  }
});

describe("the generator counts what went wrong", () => {
  test("a server that ends with OK after the request headers: accepted, counted as ended early", async () => {
    const { result, streams } = await drive("benign", { endAfterRequestHeaders: true });
    assertCounts(result, { endedEarly: STREAMS });
    for (const stream of streams) assert.equal(stream.messages[0], "requestHeaders");
  });

  test("a reply of the wrong kind is an error", async () => {
    const { result } = await drive("benign", { wrongReply: true });
    assertCounts(result, { streams: 0, errors: STREAMS });
    assert.match(result.firstError, /response_headers reply to request_headers/);
  });

  test("a non-OK status is an error", async () => {
    const { result } = await drive("json1k", { failWith: grpc.status.INTERNAL });
    assertCounts(result, { streams: 0, errors: STREAMS });
    assert.match(result.firstError, /gRPC status 13 scripted failure/);
  });
});

test("idle streams: request headers announce a body that never comes, then a reset", {
  timeout: 60_000,
}, async () => {
  const fake = await startFakeExtProc({ requestBodyMode: Mode.STREAMED });
  const load = new Load({
    target: fake.target,
    connections: 2,
    plan: plan("json1k"),
    timeoutMs: 10_000,
    verifyReplies: 0,
  });
  try {
    await load.connect();
    assert.deepEqual(await load.openIdle(20), { answered: 20, failed: 0 });
    assert.equal(load.cancelIdle(), 20);
    await load.drain(10_000);
    assert.equal(fake.streams.length, 20);
    for (const stream of fake.streams) assert.deepEqual(stream.messages, ["requestHeaders"]);
    while (fake.streams.some((s) => s.end === "open")) await new Promise((r) => setTimeout(r, 5));
    assert.ok(fake.streams.every((s) => s.end === "cancelled"));
  } finally {
    load.close();
    await fake.stop();
  }
});

test("open loop: every stream started runs the whole exchange", { timeout: 60_000 }, async () => {
  const fake = await startFakeExtProc({ responseBodyMode: Mode.STREAMED });
  const load = new Load({
    target: fake.target,
    connections: 2,
    plan: plan("respjson"),
    timeoutMs: 10_000,
    verifyReplies: 0,
  });
  try {
    await load.connect();
    load.mark();
    load.run({ kind: "open", rate: 400, arrival: "poisson", maxInFlight: 8 });
    while (fake.streams.length < 20) await new Promise((resolve) => setTimeout(resolve, 5));
    const result = load.stop();
    await load.drain(10_000);
    assert.equal(result.errorsTotal, 0, result.firstError);
    assert.ok(result.streams <= fake.streams.length);
    for (const stream of fake.streams) assert.equal(stream.messages.length, 3);
  } finally {
    load.close();
    await fake.stop();
  }
});

test("generator processes: streams, blocks and CPU reported over IPC", async () => {
  const fake = await startFakeExtProc({ blockUserAgent: SCANNER });
  const generators = await Generators.start({
    target: fake.target,
    scenario: "attack",
    processes: 2,
    connections: 2,
    chunkSize: 16 * 1024,
    timeoutMs: 10_000,
    verifyReplies: 1000,
    cpus: undefined,
  });
  try {
    await generators.mark();
    await generators.run({ kind: "closed", concurrency: 4, maxStreams: STREAMS });
    await generators.drain(10_000);
    const parts = await generators.stop();
    assert.equal(parts.length, 2);
    const total = (pick: (part: WindowResult) => number) =>
      parts.reduce((sum, part) => sum + pick(part), 0);
    assert.equal(
      total((part) => part.streams),
      STREAMS,
    );
    assert.equal(
      total((part) => part.blocked),
      STREAMS,
    );
    assert.equal(
      total((part) => part.errorsTotal),
      0,
    );
    assert.equal(fake.streams.length, STREAMS);
    assert.ok(parts.every((part) => part.cpuUs > 0));
  } finally {
    await generators.exit();
    await fake.stop();
  }
});

test("JSON bodies have the exact size and parse", () => {
  for (const size of [1024, 64 * 1024]) {
    const body = jsonOfSize(size);
    assert.equal(body.length, size);
    assert.doesNotThrow(() => JSON.parse(new TextDecoder().decode(body)));
  }
});
