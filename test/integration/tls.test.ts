/**
 * The gRPC listener's TLS policy (TLS 1.2 minimum, ECDHE with AEAD ciphers only) and mutual TLS
 * (DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE), in process and in the real processor.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { type ConnectionOptions, connect, createServer as createTlsServer } from "node:tls";
import { PASS_THROUGH_INSPECTOR } from "../../processor/inspector/index.ts";
import { err, ok, type Result } from "../../processor/result.ts";
import { generateSelfSigned, type TlsMaterial } from "../../processor/server/index.ts";
import { type Client, createClient, exchange, openStream, status } from "../support/grpc-client.ts";
import { startTestServer, type TestServer } from "../support/in-process.ts";
import { getHeaders, kindOf, requestHeaders, responseHeaders } from "../support/messages.ts";
import { createTestCa } from "../support/pki.ts";
import { spawnProcessor, startProcessor } from "../support/processor-process.ts";

/** What a completed handshake negotiated. */
interface Negotiated {
  protocol: string | null;
  cipher: string;
}

type Handshake = Result<Negotiated, string>;

/** Opens a TLS connection with `options` and reports how the handshake ended. */
function handshake(port: number, options: ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ALPNProtocols: ["h2"],
      rejectUnauthorized: false,
      ...options,
    });
    socket.once("secureConnect", () => {
      // The handshake alone proves little: TLS 1.3 servers check client certificates after the
      // client's side of it, and Node refuses an untrusted one once it is done. A server that
      // accepted the connection sends its HTTP/2 SETTINGS at once; one that refused closes it.
      const protocol = socket.getProtocol();
      const cipher = socket.getCipher().name;
      const timer = setTimeout(() => resolve(err("no answer")), 5000);
      socket.once("data", () => {
        clearTimeout(timer);
        resolve(ok({ protocol, cipher }));
        socket.destroy();
      });
      socket.once("close", () => {
        clearTimeout(timer);
        resolve(err("closed by the server"));
      });
    });
    // Registered once for the whole life of the socket: the first error decides.
    socket.on("error", (error) => resolve(err(error.message)));
  });
}

/** OpenSSL refuses to offer TLS 1.0/1.1 at its default security level; level 0 lets the client try. */
const OLD_PROTOCOL_CLIENT = { ciphers: "DEFAULT@SECLEVEL=0" } as const;

/** TLS 1.2 suites an ECDSA server could negotiate that the policy refuses (CBC, no AEAD). */
const WEAK_CIPHERS = [
  "ECDHE-ECDSA-AES128-SHA",
  "ECDHE-ECDSA-AES256-SHA",
  "ECDHE-ECDSA-AES128-SHA256",
  "ECDHE-ECDSA-AES256-SHA384",
];

/** A full headers-only exchange on `client`; returns the stream's final status code. */
async function headersOnlyExchange(client: Client): Promise<number> {
  const stream = openStream(client);
  try {
    assert.equal(
      kindOf(await exchange(stream, requestHeaders(getHeaders(), true))),
      "requestHeaders",
    );
    assert.equal(
      kindOf(await exchange(stream, responseHeaders({ ":status": "200" }, true))),
      "responseHeaders",
    );
  } catch {
    // The call failed: its status says how.
  }
  return (await stream.status).code;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "aap-tls-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("TLS version and cipher policy", () => {
  let material: TlsMaterial;
  let server: TestServer;
  let port: number;
  before(async () => {
    material = generateSelfSigned();
    server = await startTestServer({ inspector: PASS_THROUGH_INSPECTOR, tls: material });
    port = Number(server.target.split(":").pop());
  });
  after(() => server.close());

  test("TLS 1.3 is accepted", async () => {
    const result = await handshake(port, { minVersion: "TLSv1.3" });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.value.protocol, "TLSv1.3");
  });

  test("TLS 1.2 with an ECDHE AEAD cipher (what Envoy offers) is accepted", async () => {
    for (const cipher of ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"]) {
      const result = await handshake(port, { maxVersion: "TLSv1.2", ciphers: cipher });
      assert.ok(result.ok, `${cipher}: ${JSON.stringify(result)}`);
      assert.equal(result.value.protocol, "TLSv1.2");
      assert.equal(result.value.cipher, cipher);
    }
  });

  test("TLS 1.1 and TLS 1.0 clients are refused by the server (protocol version alert)", async () => {
    for (const version of ["TLSv1.1", "TLSv1"] as const) {
      const result = await handshake(port, {
        ...OLD_PROTOCOL_CLIENT,
        minVersion: version,
        maxVersion: version,
      });
      assert.equal(result.ok, false, version);
      assert.match(result.ok ? "" : result.error, /alert protocol version/, version);
    }
  });

  test("TLS 1.2 clients offering only CBC ciphers are refused (handshake failure alert)", async () => {
    for (const cipher of WEAK_CIPHERS) {
      const result = await handshake(port, { maxVersion: "TLSv1.2", ciphers: cipher });
      assert.equal(result.ok, false, cipher);
      assert.match(result.ok ? "" : result.error, /alert handshake failure/, cipher);
    }
  });

  test("control: a Node TLS server with default options accepts those clients, so the refusals above are the policy's", async (t) => {
    const plain = createTlsServer({ cert: material.cert, key: material.key }, (socket) =>
      socket.end("served"),
    );
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    t.after(() => plain.close());
    const plainPort = (plain.address() as { port: number }).port;
    for (const cipher of WEAK_CIPHERS) {
      const result = await handshake(plainPort, { maxVersion: "TLSv1.2", ciphers: cipher });
      assert.ok(result.ok, `${cipher}: ${JSON.stringify(result)}`);
    }
  });

  test("a rotated certificate keeps the policy (rotation rebuilds the TLS context)", async () => {
    server.server.setTls(generateSelfSigned());
    const weak = await handshake(port, { maxVersion: "TLSv1.2", ciphers: WEAK_CIPHERS[0] });
    assert.equal(weak.ok, false);
    const old = await handshake(port, {
      ...OLD_PROTOCOL_CLIENT,
      minVersion: "TLSv1.1",
      maxVersion: "TLSv1.1",
    });
    assert.equal(old.ok, false);
    const modern = await handshake(port, {});
    assert.ok(modern.ok, JSON.stringify(modern));
  });
});

describe("mutual TLS in process", () => {
  const ca = createTestCa();
  const serverPair = ca.server();
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      inspector: PASS_THROUGH_INSPECTOR,
      tls: { ...serverPair, source: "file", clientCa: ca.cert },
    });
  });
  after(() => server.close());

  const clientWith = (certificate?: { cert: string; key: string }) =>
    createClient(server.target, {
      ca: ca.cert,
      ...(certificate ? { clientCertificate: certificate } : {}),
    });

  test("a client with a certificate signed by the client CA is served", async (t) => {
    const client = clientWith(ca.client());
    t.after(() => client.close());
    assert.equal(await headersOnlyExchange(client), status.OK);
  });

  test("a client without a certificate is refused at the handshake", async (t) => {
    const client = clientWith();
    t.after(() => client.close());
    assert.notEqual(await headersOnlyExchange(client), status.OK);
    const raw = await handshake(Number(server.target.split(":").pop()), {});
    assert.equal(raw.ok, false);
    assert.match(raw.ok ? "" : raw.error, /certificate required/);
  });

  test("a client whose certificate another CA signed is refused", async (t) => {
    const client = clientWith(createTestCa("another CA").client());
    t.after(() => client.close());
    assert.notEqual(await headersOnlyExchange(client), status.OK);
    const raw = await handshake(Number(server.target.split(":").pop()), {
      ...createTestCa("yet another CA").client(),
    });
    assert.equal(raw.ok, false);
    // Node checks the chain once OpenSSL's handshake is done and then closes the connection.
    assert.match(raw.ok ? "" : raw.error, /unknown ca|closed by the server/);
  });

  test("a rotated client CA applies to new connections", async (t) => {
    const next = createTestCa("next CA");
    server.server.setTls({ ...serverPair, source: "file", clientCa: next.cert });
    t.after(() => server.server.setTls({ ...serverPair, source: "file", clientCa: ca.cert }));
    const oldClient = clientWith(ca.client());
    const newClient = clientWith(next.client());
    t.after(() => {
      oldClient.close();
      newClient.close();
    });
    assert.notEqual(await headersOnlyExchange(oldClient), status.OK);
    assert.equal(await headersOnlyExchange(newClient), status.OK);
  });
});

describe("mutual TLS in the processor (DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE)", () => {
  test("refuses a client without a certificate, serves one with it", async (t) => {
    const dir = tempDir(t);
    const ca = createTestCa();
    const pair = ca.server();
    writeFileSync(join(dir, "tls.crt"), pair.cert);
    writeFileSync(join(dir, "tls.key"), pair.key);
    writeFileSync(join(dir, "ca.crt"), ca.cert);
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS_CERT_FILE: join(dir, "tls.crt"),
      DD_SERVICE_EXTENSION_TLS_KEY_FILE: join(dir, "tls.key"),
      DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE: join(dir, "ca.crt"),
    });
    t.after(() => processor.stop());
    const listening = processor.logs.find((line) => line.msg === "ext_proc server listening");
    assert.equal(listening?.mutualTls, true);
    assert.deepEqual(listening?.clientCa, ["CN=aap-extproc test CA"]);
    const target = `127.0.0.1:${processor.grpcPort}`;
    const anonymous = createClient(target, { ca: ca.cert });
    const trusted = createClient(target, { ca: ca.cert, clientCertificate: ca.client() });
    t.after(() => {
      anonymous.close();
      trusted.close();
    });
    assert.notEqual(await headersOnlyExchange(anonymous), status.OK);
    assert.equal(await headersOnlyExchange(trusted), status.OK);
  });

  test("a rotated client CA file applies to new connections; a broken one is refused and the old CA kept", async (t) => {
    const dir = tempDir(t);
    const ca = createTestCa();
    const pair = ca.server();
    writeFileSync(join(dir, "tls.crt"), pair.cert);
    writeFileSync(join(dir, "tls.key"), pair.key);
    writeFileSync(join(dir, "ca.crt"), ca.cert);
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS_CERT_FILE: join(dir, "tls.crt"),
      DD_SERVICE_EXTENSION_TLS_KEY_FILE: join(dir, "tls.key"),
      DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE: join(dir, "ca.crt"),
      DD_SERVICE_EXTENSION_TLS_RELOAD_INTERVAL: "0.1s",
    });
    t.after(() => processor.stop());
    const target = `127.0.0.1:${processor.grpcPort}`;
    const clients: Client[] = [];
    t.after(() => {
      for (const client of clients) client.close();
    });
    const served = async (certificate: { cert: string; key: string }) => {
      const client = createClient(target, { ca: ca.cert, clientCertificate: certificate });
      clients.push(client);
      return (await headersOnlyExchange(client)) === status.OK;
    };

    writeFileSync(
      join(dir, "ca.crt"),
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    await processor.waitForLog(
      (line) => line.msg === "TLS reload failed; keeping the current certificate",
    );
    assert.equal(await served(ca.client()), true, "the old CA still applies");

    const next = createTestCa("next CA");
    writeFileSync(join(dir, "ca.crt"), next.cert);
    await processor.waitForLog(
      (line) => line.msg === "TLS certificate reloaded" && line.clientCaReloaded === true,
    );
    assert.equal(await served(ca.client()), false, "the old CA's clients are refused");
    assert.equal(await served(next.client()), true, "the new CA's clients are served");
  });

  const startupFailures: Array<[string, (dir: string) => Record<string, string>, RegExp]> = [
    [
      "a missing client CA file",
      (dir) => ({ DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE: join(dir, "none.crt") }),
      /cannot read the client CA file/,
    ],
    [
      "a client CA file without a certificate",
      (dir) => {
        writeFileSync(join(dir, "ca.crt"), "not a certificate\n");
        return { DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE: join(dir, "ca.crt") };
      },
      /holds no PEM certificate/,
    ],
    [
      "a corrupted certificate",
      (dir) => {
        writeFileSync(
          join(dir, "ca.crt"),
          "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        return { DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE: join(dir, "ca.crt") };
      },
      /certificate 1 is invalid/,
    ],
    [
      "a leaf certificate instead of a CA",
      (dir) => {
        writeFileSync(join(dir, "ca.crt"), generateSelfSigned().cert);
        return { DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE: join(dir, "ca.crt") };
      },
      /is not a CA certificate/,
    ],
    [
      "a client CA with TLS off",
      (dir) => {
        writeFileSync(join(dir, "ca.crt"), createTestCa().cert);
        return {
          DD_SERVICE_EXTENSION_TLS: "false",
          DD_SERVICE_EXTENSION_TLS_CLIENT_CA_FILE: join(dir, "ca.crt"),
        };
      },
      /TLS_CLIENT_CA_FILE is set but gRPC is served without TLS/,
    ],
  ];
  for (const [name, env, expected] of startupFailures) {
    test(`${name} stops startup with exit code 1 and a clear error`, async (t) => {
      const dir = tempDir(t);
      const processor = spawnProcessor({
        DD_SERVICE_EXTENSION_PORT: "0",
        DD_SERVICE_EXTENSION_HEALTHCHECK_PORT: "0",
        DD_SERVICE_EXTENSION_TLS_CERT_FILE: join(dir, "none.crt"),
        DD_SERVICE_EXTENSION_TLS_KEY_FILE: join(dir, "none.key"),
        ...env(dir),
      });
      assert.equal(await processor.exited, 1);
      const failure = processor.logs.find((line) => line.msg === "startup failed");
      assert.equal(failure?.code, "tls");
      assert.match(String(failure?.error), expected);
    });
  }
});
