/**
 * The gRPC server with real HTTP/2: TLS, h2c, unix sockets, concurrency, cancellation, protocol
 * abuse and large messages, driven as Envoy would drive it by the tests' Connect gRPC client.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { HealthCheckResponse_ServingStatus } from "../../processor/gen/grpc/health/v1/health_pb.ts";
import {
  type Inspector,
  type Outcome,
  PASS_THROUGH_INSPECTOR,
} from "../../processor/inspector/index.ts";
import { generateSelfSigned } from "../../processor/server/index.ts";
import {
  type Client,
  createClient,
  exchange,
  openStream,
  status,
  statusOf,
} from "../support/grpc-client.ts";
import { startTestServer, type TestServer } from "../support/in-process.ts";
import {
  getHeaders,
  kindOf,
  requestBody,
  requestHeaders,
  requestTrailers,
  responseHeaders,
} from "../support/messages.ts";
import { PROTOCOL_ABUSE } from "../support/protocol-abuse.ts";
import { rawCall } from "../support/raw-grpc.ts";

/** A pass-through inspector that records how each stream ended. */
function recording() {
  const outcomes: Outcome[] = [];
  const factory: Inspector = {
    open(info) {
      const inner = PASS_THROUGH_INSPECTOR.open(info);
      return { ...inner, end: (outcome) => outcomes.push(outcome) };
    },
  };
  return { factory, outcomes };
}

async function waitFor(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A full headers-only exchange: request headers, response headers, clean close. */
async function headersOnlyExchange(client: Client) {
  const stream = openStream(client);
  assert.equal(
    kindOf(await exchange(stream, requestHeaders(getHeaders(), true))),
    "requestHeaders",
  );
  assert.equal(
    kindOf(await exchange(stream, responseHeaders({ ":status": "200" }, true))),
    "responseHeaders",
  );
  assert.equal((await stream.status).code, status.OK);
}

describe("over TLS with the generated certificate", () => {
  const material = generateSelfSigned();
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ inspector: PASS_THROUGH_INSPECTOR, tls: material });
  });
  after(() => server.close());

  test("a client that trusts the certificate and sends SNI localhost is served", async (t) => {
    const client = createClient(server.target, { ca: material.cert, serverName: "localhost" });
    t.after(() => client.close());
    await headersOnlyExchange(client);
  });

  test("a client that does not verify (Envoy's default UpstreamTlsContext) is served", async (t) => {
    const client = createClient(server.target, { insecureSkipVerify: true });
    t.after(() => client.close());
    await headersOnlyExchange(client);
  });

  test("a client that verifies against other roots is refused", async (t) => {
    const other = generateSelfSigned();
    const client = createClient(server.target, { ca: other.cert });
    t.after(() => client.close());
    const stream = openStream(client);
    stream.send(requestHeaders(getHeaders()));
    const ended = await stream.status;
    assert.equal(ended.code, status.UNAVAILABLE);
    assert.match(ended.details, /certificate/);
  });

  test("grpc.health.v1 Check answers SERVING, and NOT_SERVING while draining", async (t) => {
    const client = createClient(server.target, { ca: material.cert });
    t.after(() => client.close());
    const check = async (service: string): Promise<{ code: number; status?: number }> => {
      try {
        return { code: status.OK, status: (await client.health.check({ service })).status };
      } catch (error) {
        return { code: statusOf(error).code };
      }
    };
    assert.deepEqual(await check(""), {
      code: 0,
      status: HealthCheckResponse_ServingStatus.SERVING,
    });
    assert.deepEqual(await check("envoy.service.ext_proc.v3.ExternalProcessor"), {
      code: 0,
      status: HealthCheckResponse_ServingStatus.SERVING,
    });
    assert.equal((await check("no.such.Service")).code, status.NOT_FOUND);
    // The server is shared with the other tests of this suite: ready again whatever happens.
    t.after(() => server.readiness.set("ready"));
    server.readiness.set("draining");
    assert.deepEqual(await check(""), {
      code: 0,
      status: HealthCheckResponse_ServingStatus.NOT_SERVING,
    });
  });
});

describe("over h2c", () => {
  const record = recording();
  let server: TestServer;
  let client: Client;
  before(async () => {
    server = await startTestServer({ inspector: record.factory });
    client = createClient(server.target);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  test("a headers-only exchange ends with OK after the response headers", async () => {
    await headersOnlyExchange(client);
  });

  test("a full exchange with bodies and trailers gets one reply per message", async () => {
    const stream = openStream(client);
    const replies = [];
    for (const message of [
      requestHeaders(getHeaders("/upload", { "content-type": "text/plain" }), false),
      requestBody("part 1", false),
      requestBody("part 2", false),
      requestTrailers({ "x-checksum": "abc" }),
      responseHeaders({ ":status": "200", "content-type": "text/plain" }, false),
    ]) {
      replies.push(kindOf(await exchange(stream, message)));
    }
    assert.deepEqual(replies, [
      "requestHeaders",
      "requestBody",
      "requestBody",
      "requestTrailers",
      "responseHeaders",
    ]);
    assert.equal((await stream.status).code, status.OK);
  });

  test("1,000 concurrent streams are all answered", async () => {
    const count = 1000;
    // Every stream waits behind the whole burst, so the guard against a hang is the test's budget
    // rather than the 5 s per reply: on a shared 2-core machine the burst alone takes seconds.
    const hangGuardMs = 30_000;
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: count }, async (_, index) => {
        const stream = openStream(client);
        const first = await exchange(
          stream,
          requestHeaders(getHeaders(`/item/${index}`), true),
          hangGuardMs,
        );
        const second = await exchange(
          stream,
          responseHeaders({ ":status": "200" }, true),
          hangGuardMs,
        );
        return [kindOf(first), kindOf(second), (await stream.status).code];
      }),
    );
    const elapsed = Date.now() - started;
    assert.equal(
      results.filter(
        ([a, b, code]) => a === "requestHeaders" && b === "responseHeaders" && code === status.OK,
      ).length,
      count,
    );
    console.log(`1000 concurrent streams: ${elapsed} ms`);
  });

  test("cancellation mid-stream releases the stream's inspection", async () => {
    const before = record.outcomes.filter((outcome) => outcome === "cancelled").length;
    const stream = openStream(client);
    await exchange(
      stream,
      requestHeaders(getHeaders("/slow-upload", { "content-type": "application/json" }), false),
    );
    await exchange(stream, requestBody("{", false));
    stream.cancel();
    assert.equal((await stream.status).code, status.CANCELLED);
    await waitFor(
      () => record.outcomes.filter((outcome) => outcome === "cancelled").length === before + 1,
    );
  });

  test("a passed deadline releases the stream's inspection", async () => {
    const before = record.outcomes.length;
    const stream = openStream(client, { "x-datadog-envoy-integration": "1" }, 300);
    await exchange(
      stream,
      requestHeaders(getHeaders("/slow", { "content-type": "application/json" }), false),
    );
    assert.equal((await stream.status).code, status.DEADLINE_EXCEEDED);
    await waitFor(() => record.outcomes.length === before + 1);
    assert.equal(record.outcomes.at(-1), "cancelled");
  });

  test("a lost connection releases the inspections of its open streams", async () => {
    const before = record.outcomes.length;
    const streams = [openStream(client), openStream(client), openStream(client)];
    for (const stream of streams) {
      await exchange(
        stream,
        requestHeaders(getHeaders("/upload", { "content-type": "application/json" }), false),
      );
    }
    server.dropConnections(); // the TCP connection dies under the open streams
    for (const stream of streams) assert.notEqual((await stream.status).code, status.OK);
    await waitFor(() => record.outcomes.length === before + streams.length);
    assert.ok(
      record.outcomes
        .slice(before)
        .every((outcome) => outcome === "cancelled" || outcome === "error"),
    );
  });

  test("Envoy half-closing before the response is answered ends the stream cleanly", async () => {
    const stream = openStream(client);
    await exchange(stream, requestHeaders(getHeaders(), false));
    stream.end();
    assert.equal((await stream.status).code, status.OK);
  });

  test("a message larger than gRPC's default 4 MiB limit is accepted", async () => {
    const stream = openStream(client);
    await exchange(
      stream,
      requestHeaders(getHeaders("/big", { "content-type": "application/octet-stream" }), false),
    );
    const reply = await exchange(
      stream,
      requestBody(new Uint8Array(6 * 1024 * 1024).fill(65), true),
    );
    assert.equal(kindOf(reply), "requestBody");
    stream.end();
  });

  for (const [name, messages, code] of PROTOCOL_ABUSE) {
    test(`protocol abuse: ${name} ends that stream with INVALID_ARGUMENT`, async () => {
      const stream = openStream(client);
      for (const message of messages) stream.send(message);
      const ended = await stream.status;
      assert.equal(ended.code, status.INVALID_ARGUMENT);
      assert.match(ended.details, new RegExp(code));
      assert.ok(server.logs.some((line) => line.msg === "protocol error" && line.code === code));
      // The server is unaffected: the next stream works.
      await headersOnlyExchange(client);
    });
  }
});

describe("over a unix socket", () => {
  let server: TestServer;
  const dir = mkdtempSync(join(tmpdir(), "aap-uds-"));
  before(async () => {
    server = await startTestServer({
      inspector: PASS_THROUGH_INSPECTOR,
      socketPath: join(dir, "extproc.sock"),
    });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("serves ext_proc without TLS", async (t) => {
    const client = createClient(server.target);
    t.after(() => client.close());
    await headersOnlyExchange(client);
  });
});

describe("HTTP/2 keepalive", () => {
  /** A TCP peer that opens HTTP/2 (preface + SETTINGS) and then never answers anything. */
  function silentPeer(
    port: number,
  ): Promise<{ closedAfterMs: () => Promise<number>; destroy(): void }> {
    return new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        const started = Date.now();
        socket.write(
          Buffer.concat([
            Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
          ]),
        );
        socket.on("data", () => {}); // read and ignore: no SETTINGS ack, no PING ack
        const closed = new Promise<number>((done) =>
          socket.on("close", () => done(Date.now() - started)),
        );
        resolve({ closedAfterMs: () => closed, destroy: () => socket.destroy() });
      });
    });
  }

  test("a connection that stops answering pings is closed; a live one is kept", async (t) => {
    const server = await startTestServer({
      inspector: PASS_THROUGH_INSPECTOR,
      keepalive: { intervalMs: 100, timeoutMs: 200 },
    });
    t.after(() => server.close());
    const port = Number(server.target.split(":")[1]);
    const client = createClient(server.target);
    t.after(() => client.close());
    const live = openStream(client);
    await exchange(live, requestHeaders(getHeaders(), false));
    const peer = await silentPeer(port);
    t.after(() => peer.destroy());
    const closedAfter = await Promise.race([
      peer.closedAfterMs(),
      new Promise<number>((resolve) => setTimeout(() => resolve(-1), 3000)),
    ]);
    assert.ok(closedAfter > 0 && closedAfter < 1500, `silent peer closed after ${closedAfter} ms`);
    // The live connection answered every ping in the meantime and still works.
    assert.equal(
      kindOf(await exchange(live, responseHeaders({ ":status": "200" }, true))),
      "responseHeaders",
    );
  });

  test("without keepalive pings a silent connection stays open", async (t) => {
    const server = await startTestServer({
      inspector: PASS_THROUGH_INSPECTOR,
      keepalive: { intervalMs: 60_000, timeoutMs: 10_000 },
    });
    t.after(() => server.close());
    const peer = await silentPeer(Number(server.target.split(":")[1]));
    t.after(() => peer.destroy());
    const closedAfter = await Promise.race([
      peer.closedAfterMs(),
      new Promise<number>((resolve) => setTimeout(() => resolve(-1), 1500)),
    ]);
    assert.equal(
      closedAfter,
      -1,
      "the only thing that closes a silent connection is the keepalive",
    );
  });
});

describe("hostile bytes", () => {
  test("undecodable protobuf messages end only that stream; the server keeps serving", async (t) => {
    const server = await startTestServer({ inspector: PASS_THROUGH_INSPECTOR });
    t.after(() => server.close());
    const client = createClient(server.target);
    t.after(() => client.close());
    const garbage = [
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]),
      Buffer.from([0x0a, 0x7f, 0x01]), // field 1 (request_headers) claims 127 bytes, has 1
      Buffer.from("not a protobuf message at all"),
    ];
    for (const bytes of garbage) {
      const { status: final } = await rawCall(
        server.target,
        "/envoy.service.ext_proc.v3.ExternalProcessor/Process",
        [bytes],
      );
      assert.notEqual(final.code, status.OK, `garbage ${bytes.toString("hex")} was accepted`);
    }
    assert.equal(
      server.logs.filter((line) => line.msg === "stream failed").length,
      garbage.length,
      "each failure logged once",
    );
    await headersOnlyExchange(client);
  });
});
