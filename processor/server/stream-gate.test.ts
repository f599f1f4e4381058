/**
 * The stream gate answers a refused stream itself, Trailers-Only RESOURCE_EXHAUSTED, before
 * grpc-js builds a call: the service handler never runs. Seen from a plain HTTP/2 client, the
 * frames a gRPC client (Envoy) reads.
 */
import assert from "node:assert/strict";
import { connect, constants } from "node:http2";
import { test } from "node:test";
import { Server, type ServiceDefinition, status } from "@grpc/grpc-js";
import { createServer } from "./create-server.ts";
import { installStreamGate } from "./stream-gate.ts";

const PATH = "/test.Gated/Echo";
const DEFINITION: ServiceDefinition = {
  echo: {
    path: PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (bytes: Buffer) => bytes,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (bytes: Buffer) => bytes,
    responseDeserialize: (bytes: Buffer) => bytes,
  },
};

/** A server whose one method ends every call OK, counting them; `refusal` closes the gate. */
async function gatedServer(t: test.TestContext) {
  const state = { calls: 0, refusal: undefined as string | undefined };
  const server = createServer({
    services: [
      {
        definition: DEFINITION,
        implementation: {
          echo: (call: { end(): void; on(event: string, listener: () => void): void }) => {
            state.calls++;
            call.on("data", () => {});
            call.end();
          },
        },
        gate: () => state.refusal,
      },
    ],
    maxConcurrentStreams: 100,
    readMaxBytes: 1024,
  });
  await server.listen({ host: "127.0.0.1", port: 0 });
  t.after(() => server.drain(100));
  const session = connect(`http://127.0.0.1:${server.port}`);
  t.after(() => session.close());
  return { state, session };
}

/** One call's response and trailers headers, merged. */
function call(session: ReturnType<typeof connect>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const seen: Record<string, unknown> = {};
    stream.on("response", (headers) => Object.assign(seen, headers));
    stream.on("trailers", (headers) => Object.assign(seen, headers));
    stream.on("error", reject);
    stream.on("close", () => resolve({ ...seen, rstCode: stream.rstCode }));
    stream.resume();
    stream.end(Buffer.from([0, 0, 0, 0, 1, 42]));
  });
}

test("a refused stream gets RESOURCE_EXHAUSTED Trailers-Only and never reaches its handler", async (t) => {
  const { state, session } = await gatedServer(t);
  state.refusal = "overloaded: 5 streams open, limit 5";
  const refused = await call(session);
  assert.equal(refused[":status"], 200);
  assert.equal(refused["grpc-status"], String(status.RESOURCE_EXHAUSTED));
  assert.equal(
    decodeURIComponent(String(refused["grpc-message"])),
    "overloaded: 5 streams open, limit 5",
  );
  assert.equal(refused.rstCode, constants.NGHTTP2_NO_ERROR);
  assert.equal(state.calls, 0);
  // Gate open: grpc-js serves the stream as usual.
  state.refusal = undefined;
  const served = await call(session);
  assert.equal(served["grpc-status"], String(status.OK));
  assert.equal(state.calls, 1);
});

test("grpc-js without the internal the gate needs: a clear error, not a silent pass", () => {
  // A grpc-js Server with no HTTP/2 server yet (no connection injector created).
  assert.throws(
    () => installStreamGate(new Server(), new Map([[PATH, () => "refused"]])),
    /@grpc\/grpc-js internals changed/,
  );
});
