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
import {
  CONTINUE,
  type ExchangeInfo,
  type Inspection,
  type Inspector,
  type Outcome,
  PASS_THROUGH_INSPECTOR,
} from "../inspector/index.ts";
import type { CallInfo } from "./messages.ts";
import { openStream } from "./process-stream.ts";

function context(metadata: Record<string, string> = {}): CallInfo {
  return { metadata: (key) => metadata[key] };
}

/** An inspector whose inspections record what they saw and how they ended. */
function recordingInspector(overrides: Partial<Inspection> = {}) {
  const seen: string[] = [];
  const outcomes: Outcome[] = [];
  const infos: ExchangeInfo[] = [];
  const see = (kind: string) => {
    seen.push(kind);
    return CONTINUE;
  };
  const factory: Inspector = {
    open(info) {
      infos.push(info);
      return {
        requestHeaders: () => see("RH"),
        requestBody: () => see("RB"),
        requestTrailers: () => see("RT"),
        responseHeaders: () => see("SH"),
        responseBody: () => see("SB"),
        responseTrailers: () => see("ST"),
        end: (outcome) => outcomes.push(outcome),
        ...overrides,
      };
    },
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
  factory: Inspector,
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
async function collect(messages: ProcessingRequest[], factory: Inspector, ctx = context()) {
  const { kinds, ending } = await drive(messages, factory, ctx);
  if (ending.kind === "failed") throw ending.error;
  return kinds;
}

test("answers every message once with the matching kind, in order", async () => {
  const inspection = recordingInspector();
  const kinds = await collect(
    [
      requestHeaders(getHeaders(), false),
      requestBody("a", false),
      requestTrailers(),
      responseHeaders({ ":status": "200" }, false),
      responseBody("b", true),
    ],
    inspection.factory,
  );
  assert.deepEqual(kinds, [
    "requestHeaders",
    "requestBody",
    "requestTrailers",
    "responseHeaders",
    "responseBody",
  ]);
  assert.deepEqual(inspection.seen, ["RH", "RB", "RT", "SH", "SB"]);
  assert.deepEqual(inspection.outcomes, ["complete"]);
});

test("ends the stream after the last message even if Envoy keeps it open", async () => {
  const inspection = recordingInspector();
  // Envoy would half-close later; we must not wait for it.
  const { kinds, ending } = await drive(
    [requestHeaders(getHeaders(), true), responseHeaders({ ":status": "200" }, true)],
    inspection.factory,
    context(),
    false,
  );
  assert.deepEqual(kinds, ["requestHeaders", "responseHeaders"]);
  assert.equal(ending.kind, "finished");
  assert.deepEqual(inspection.outcomes, ["complete"]);
});

test("a close verdict ends the stream cleanly after its reply", async () => {
  const kinds = await collect(
    [requestHeaders(getHeaders(), true), responseHeaders({ ":status": "200" }, false)],
    PASS_THROUGH_INSPECTOR,
  );
  assert.deepEqual(kinds, ["requestHeaders", "responseHeaders"]);
});

test("an immediate verdict is the last reply and the outcome is blocked", async () => {
  const inspection = recordingInspector({
    requestHeaders: () => ({
      kind: "immediate",
      status: 403,
      headers: [],
      body: new Uint8Array(),
      details: "blocked",
    }),
  });
  const kinds = await collect(
    [requestHeaders(getHeaders(), false), requestBody("x", true)],
    inspection.factory,
  );
  assert.deepEqual(kinds, ["immediateResponse"]);
  assert.deepEqual(inspection.outcomes, ["blocked"]);
});

test("observability-mode messages get no reply but are still analysed", async () => {
  const inspection = recordingInspector();
  const kinds = await collect(
    [
      requestHeaders(getHeaders(), true, { observabilityMode: true }),
      responseHeaders({ ":status": "200" }, true, { observabilityMode: true }),
    ],
    inspection.factory,
  );
  assert.deepEqual(kinds, []);
  assert.deepEqual(inspection.seen, ["RH", "SH"]);
});

test("the integration comes from the gRPC metadata", async () => {
  const istio = recordingInspector();
  await collect(
    [requestHeaders(getHeaders())],
    istio.factory,
    context({ "x-datadog-istio-integration": "1" }),
  );
  const envoy = recordingInspector();
  await collect(
    [requestHeaders(getHeaders())],
    envoy.factory,
    context({ "x-datadog-envoy-integration": "1" }),
  );
  assert.equal(istio.infos[0]?.integration, "istio");
  assert.equal(envoy.infos[0]?.integration, "envoy");
});

for (const [name, messages, code] of PROTOCOL_ABUSE) {
  test(`protocol error: ${name}`, async () => {
    const inspection = recordingInspector();
    await assert.rejects(
      collect(messages, inspection.factory),
      (error) => isProtocolError(error) && error.code === code,
    );
    // An inspection exists only once a message was accepted; then it ends exactly once, as an error.
    assert.ok(inspection.outcomes.every((outcome) => outcome === "error"));
    assert.equal(inspection.outcomes.length, inspection.infos.length);
  });
}

test("the inspection ends exactly once with 'error' on a protocol error after it started", async () => {
  const inspection = recordingInspector();
  await assert.rejects(
    collect([requestHeaders(getHeaders(), true), requestBody("x", false)], inspection.factory),
  );
  assert.deepEqual(inspection.outcomes, ["error"]);
});

test("an inspection's protocol error value ends the stream", async () => {
  const { ProtocolError } = await import("../errors.ts");
  const inspection = recordingInspector({
    requestHeaders: () => new ProtocolError("invalid-request-headers", "missing :path"),
  });
  await assert.rejects(
    collect([requestHeaders([[":method", "GET"]])], inspection.factory),
    (error) => isProtocolError(error) && error.code === "invalid-request-headers",
  );
  assert.deepEqual(inspection.outcomes, ["error"]);
});

test("a cancelled stream ends the inspection with 'cancelled', once", async () => {
  const inspection = recordingInspector();
  const { stream, ending } = await drive(
    [requestHeaders(getHeaders(), false)],
    inspection.factory,
    context(),
    false,
  );
  assert.equal(ending.kind, "open");
  stream.cancel();
  stream.cancel();
  stream.halfClose();
  assert.deepEqual(inspection.outcomes, ["cancelled"]);
});

test("a half-close before the exchange finished ends the stream cleanly as 'cancelled'", async () => {
  const inspection = recordingInspector();
  const { ending } = await drive([requestHeaders(getHeaders(), false)], inspection.factory);
  assert.equal(ending.kind, "finished");
  assert.deepEqual(inspection.outcomes, ["cancelled"]);
});

test("a message after the stream was cancelled is ignored", async () => {
  const inspection = recordingInspector();
  const { stream, kinds } = await drive(
    [requestHeaders(getHeaders(), false)],
    inspection.factory,
    context(),
    false,
  );
  stream.cancel();
  await stream.receive(requestBody("late", true));
  assert.deepEqual(kinds, ["requestHeaders"]);
  assert.deepEqual(inspection.seen, ["RH"]);
});

test("a reply that settles after cancellation is not sent", async () => {
  let release: (verdict: typeof CONTINUE) => void = () => {};
  const inspection = recordingInspector({
    requestBody: () => new Promise((resolve) => (release = resolve)),
  });
  const { stream, kinds } = await drive(
    [requestHeaders(getHeaders(), false)],
    inspection.factory,
    context(),
    false,
  );
  const pending = stream.receive(requestBody("x", true));
  stream.cancel();
  release(CONTINUE);
  await pending;
  assert.deepEqual(kinds, ["requestHeaders"]);
  assert.deepEqual(inspection.outcomes, ["cancelled"]);
});

test("an inspection that throws ends the stream as an error, once", async () => {
  const inspection = recordingInspector({
    requestHeaders: () => {
      throw new Error("bug");
    },
  });
  const { ending } = await drive([requestHeaders(getHeaders(), false)], inspection.factory);
  assert.equal(ending.kind, "failed");
  assert.deepEqual(inspection.outcomes, ["error"]);
});
