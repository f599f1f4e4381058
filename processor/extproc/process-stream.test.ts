import assert from "node:assert/strict";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import {
  getHeaders,
  kindOf,
  requestBody,
  requestHeaders,
  requestTrailers,
  responseBody,
  responseHeaders,
} from "../../test/support/messages.ts";
import { PROTOCOL_ABUSE } from "../../test/support/protocol-abuse.ts";
import { isProtocolError } from "../errors.ts";
import {
  type ProcessingRequest,
  ProcessingResponseSchema,
} from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { openStream, type StreamContext } from "./process-stream.ts";
import { passThroughSession, type SessionFactory, type StreamOutcome } from "./session.ts";
import { CONTINUE } from "./verdict.ts";

function context(metadata: Record<string, string> = {}): StreamContext {
  return { metadata: (key) => metadata[key] };
}

/** A session that records what it saw and how it ended. */
function recordingSession(overrides: Partial<ReturnType<SessionFactory>> = {}) {
  const seen: string[] = [];
  const outcomes: StreamOutcome[] = [];
  const infos: unknown[] = [];
  const see = (kind: string) => {
    seen.push(kind);
    return CONTINUE;
  };
  const factory: SessionFactory = (info) => {
    infos.push(info);
    return {
      onRequestHeaders: () => see("RH"),
      onRequestBody: () => see("RB"),
      onRequestTrailers: () => see("RT"),
      onResponseHeaders: () => see("SH"),
      onResponseBody: () => see("SB"),
      onResponseTrailers: () => see("ST"),
      end: (outcome) => outcomes.push(outcome),
      ...overrides,
    };
  };
  return { factory, seen, outcomes, infos };
}

/** How a driven stream ended: finished (gRPC OK), failed, or still open. */
type Ending = { kind: "finished" } | { kind: "failed"; error: unknown } | { kind: "open" };

/**
 * Feeds `messages` one at a time as the transport does (waiting for asynchronous replies), then
 * half-closes unless `halfClose` is false. Returns the kinds of the replies and how it ended.
 */
async function drive(
  messages: ProcessingRequest[],
  factory: SessionFactory,
  ctx = context(),
  halfClose = true,
) {
  const kinds: Array<string | undefined> = [];
  let ending: Ending = { kind: "open" };
  const stream = openStream(ctx, factory, {
    send: (reply) => kinds.push(kindOf(fromBinary(ProcessingResponseSchema, reply))),
    finish: () => {
      ending = { kind: "finished" };
    },
    fail: (error) => {
      ending = { kind: "failed", error };
    },
  });
  for (const message of messages) {
    if (ending.kind !== "open") break;
    await stream.receive(message);
  }
  if (halfClose && ending.kind === "open") stream.halfClose();
  return { kinds, ending: ending as Ending, stream };
}

/** The replies of a stream that must not fail; rejects with the failure otherwise. */
async function collect(messages: ProcessingRequest[], factory: SessionFactory, ctx = context()) {
  const { kinds, ending } = await drive(messages, factory, ctx);
  if (ending.kind === "failed") throw ending.error;
  return kinds;
}

test("answers every message once with the matching kind, in order", async () => {
  const session = recordingSession();
  const kinds = await collect(
    [
      requestHeaders(getHeaders(), false),
      requestBody("a", false),
      requestTrailers(),
      responseHeaders({ ":status": "200" }, false),
      responseBody("b", true),
    ],
    session.factory,
  );
  assert.deepEqual(kinds, [
    "requestHeaders",
    "requestBody",
    "requestTrailers",
    "responseHeaders",
    "responseBody",
  ]);
  assert.deepEqual(session.seen, ["RH", "RB", "RT", "SH", "SB"]);
  assert.deepEqual(session.outcomes, ["complete"]);
});

test("ends the stream after the last message even if Envoy keeps it open", async () => {
  const session = recordingSession();
  // Envoy would half-close later; we must not wait for it.
  const { kinds, ending } = await drive(
    [requestHeaders(getHeaders(), true), responseHeaders({ ":status": "200" }, true)],
    session.factory,
    context(),
    false,
  );
  assert.deepEqual(kinds, ["requestHeaders", "responseHeaders"]);
  assert.equal(ending.kind, "finished");
  assert.deepEqual(session.outcomes, ["complete"]);
});

test("a close verdict ends the stream cleanly after its reply", async () => {
  const kinds = await collect(
    [requestHeaders(getHeaders(), true), responseHeaders({ ":status": "200" }, false)],
    passThroughSession,
  );
  assert.deepEqual(kinds, ["requestHeaders", "responseHeaders"]);
});

test("an immediate verdict is the last reply and the outcome is blocked", async () => {
  const session = recordingSession({
    onRequestHeaders: () => ({
      kind: "immediate",
      status: 403,
      headers: [],
      body: new Uint8Array(),
      details: "blocked",
    }),
  });
  const kinds = await collect(
    [requestHeaders(getHeaders(), false), requestBody("x", true)],
    session.factory,
  );
  assert.deepEqual(kinds, ["immediateResponse"]);
  assert.deepEqual(session.outcomes, ["blocked"]);
});

test("observability-mode messages get no reply but are still analysed", async () => {
  const session = recordingSession();
  const kinds = await collect(
    [
      requestHeaders(getHeaders(), true, { observabilityMode: true }),
      responseHeaders({ ":status": "200" }, true, { observabilityMode: true }),
    ],
    session.factory,
  );
  assert.deepEqual(kinds, []);
  assert.deepEqual(session.seen, ["RH", "SH"]);
});

test("the integration comes from the gRPC metadata", async () => {
  const istio = recordingSession();
  await collect(
    [requestHeaders(getHeaders())],
    istio.factory,
    context({ "x-datadog-istio-integration": "1" }),
  );
  const envoy = recordingSession();
  await collect(
    [requestHeaders(getHeaders())],
    envoy.factory,
    context({ "x-datadog-envoy-integration": "1" }),
  );
  assert.equal((istio.infos[0] as { integration: string }).integration, "istio");
  assert.equal((envoy.infos[0] as { integration: string }).integration, "envoy");
});

for (const [name, messages, code] of PROTOCOL_ABUSE) {
  test(`protocol error: ${name}`, async () => {
    const session = recordingSession();
    await assert.rejects(
      collect(messages, session.factory),
      (error) => isProtocolError(error) && error.code === code,
    );
    // A session exists only once a message was accepted; then it ends exactly once, as an error.
    assert.ok(session.outcomes.every((outcome) => outcome === "error"));
    assert.equal(session.outcomes.length, session.infos.length);
  });
}

test("the session ends exactly once with 'error' on a protocol error after it started", async () => {
  const session = recordingSession();
  await assert.rejects(
    collect([requestHeaders(getHeaders(), true), requestBody("x", false)], session.factory),
  );
  assert.deepEqual(session.outcomes, ["error"]);
});

test("a session's protocol error value ends the stream", async () => {
  const { ProtocolError } = await import("../errors.ts");
  const session = recordingSession({
    onRequestHeaders: () => new ProtocolError("invalid-request-headers", "missing :path"),
  });
  await assert.rejects(
    collect([requestHeaders([[":method", "GET"]])], session.factory),
    (error) => isProtocolError(error) && error.code === "invalid-request-headers",
  );
  assert.deepEqual(session.outcomes, ["error"]);
});

test("a cancelled stream ends the session with 'cancelled', once", async () => {
  const session = recordingSession();
  const { stream, ending } = await drive(
    [requestHeaders(getHeaders(), false)],
    session.factory,
    context(),
    false,
  );
  assert.equal(ending.kind, "open");
  stream.cancel();
  stream.cancel();
  stream.halfClose();
  assert.deepEqual(session.outcomes, ["cancelled"]);
});

test("a half-close before the exchange finished ends the stream cleanly as 'cancelled'", async () => {
  const session = recordingSession();
  const { ending } = await drive([requestHeaders(getHeaders(), false)], session.factory);
  assert.equal(ending.kind, "finished");
  assert.deepEqual(session.outcomes, ["cancelled"]);
});

test("a message after the stream was cancelled is ignored", async () => {
  const session = recordingSession();
  const { stream, kinds } = await drive(
    [requestHeaders(getHeaders(), false)],
    session.factory,
    context(),
    false,
  );
  stream.cancel();
  await stream.receive(requestBody("late", true));
  assert.deepEqual(kinds, ["requestHeaders"]);
  assert.deepEqual(session.seen, ["RH"]);
});

test("a reply that settles after cancellation is not sent", async () => {
  let release: (verdict: typeof CONTINUE) => void = () => {};
  const session = recordingSession({
    onRequestBody: () => new Promise((resolve) => (release = resolve)),
  });
  const { stream, kinds } = await drive(
    [requestHeaders(getHeaders(), false)],
    session.factory,
    context(),
    false,
  );
  const pending = stream.receive(requestBody("x", true));
  stream.cancel();
  release(CONTINUE);
  await pending;
  assert.deepEqual(kinds, ["requestHeaders"]);
  assert.deepEqual(session.outcomes, ["cancelled"]);
});

test("a session that throws ends the stream as an error, once", async () => {
  const session = recordingSession({
    onRequestHeaders: () => {
      throw new Error("bug");
    },
  });
  const { ending } = await drive([requestHeaders(getHeaders(), false)], session.factory);
  assert.equal(ending.kind, "failed");
  assert.deepEqual(session.outcomes, ["error"]);
});
