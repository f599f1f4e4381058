import assert from "node:assert/strict";
import { test } from "node:test";
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
import type { ProcessingRequest } from "../gen/envoy/service/ext_proc/v3/external_processor_pb.ts";
import { processStream, type StreamContext } from "./process-stream.ts";
import { passThroughSession, type SessionFactory, type StreamOutcome } from "./session.ts";
import { CONTINUE } from "./verdict.ts";

function context(
  metadata: Record<string, string> = {},
  signal = new AbortController().signal,
): StreamContext {
  return { signal, metadata: (key) => metadata[key] };
}

async function* from(messages: ProcessingRequest[]) {
  yield* messages;
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

async function collect(messages: ProcessingRequest[], factory: SessionFactory, ctx = context()) {
  const kinds: Array<string | undefined> = [];
  for await (const response of processStream(from(messages), ctx, factory))
    kinds.push(kindOf(response));
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
  async function* neverEnding() {
    yield requestHeaders(getHeaders(), true);
    yield responseHeaders({ ":status": "200" }, true);
    await new Promise(() => {}); // Envoy would half-close later; we must not wait for it.
  }
  const kinds: Array<string | undefined> = [];
  for await (const response of processStream(neverEnding(), context(), session.factory))
    kinds.push(kindOf(response));
  assert.deepEqual(kinds, ["requestHeaders", "responseHeaders"]);
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
    assert.deepEqual(session.outcomes.length <= 1, true);
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

test("a cancelled stream ends the session with 'cancelled'", async () => {
  const session = recordingSession();
  const controller = new AbortController();
  async function* cancelled() {
    yield requestHeaders(getHeaders(), false);
    controller.abort();
    throw new Error("stream reset by peer");
  }
  await assert.rejects(async () => {
    for await (const _ of processStream(
      cancelled(),
      context({}, controller.signal),
      session.factory,
    )) {
      // drain
    }
  });
  assert.deepEqual(session.outcomes, ["cancelled"]);
});
