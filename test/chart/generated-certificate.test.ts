/**
 * The certificates the chart generates (tls.source=selfSigned, RSA from Helm's genSignedCert) work
 * with the processor's TLS policy and mutual TLS, for the cipher suites Envoy offers by default as
 * an upstream TLS 1.2 client (its default maximum for upstream connections).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect } from "node:tls";
import { PASS_THROUGH_INSPECTOR } from "../../processor/inspector/index.ts";
import { startTestServer, type TestServer } from "../support/in-process.ts";
import { render } from "./support/helm.ts";

/** Envoy's default TLS 1.2 cipher suites for upstream connections (RSA and ECDSA variants). */
const ENVOY_DEFAULT_RSA_CIPHERS = [
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-RSA-AES256-GCM-SHA384",
];

function secretFiles(objects: Awaited<ReturnType<typeof render>>, name: string) {
  const secret = objects.find((obj) => obj.kind === "Secret" && obj.metadata.name === name);
  const data = (secret as { data?: Record<string, string> } | undefined)?.data ?? {};
  const text = (key: string) => Buffer.from(data[key] ?? "", "base64").toString();
  return { cert: text("tls.crt"), key: text("tls.key"), ca: text("ca.crt") };
}

describe("the chart's generated certificates with mutual TLS", () => {
  let server: TestServer;
  let port: number;
  let serverFiles: ReturnType<typeof secretFiles>;
  let clientFiles: ReturnType<typeof secretFiles>;
  before(async () => {
    const objects = await render("helm4", "ci/mutual-tls-values.yaml");
    serverFiles = secretFiles(objects, "aap-aap-extproc-tls");
    clientFiles = secretFiles(objects, "aap-aap-extproc-client");
    server = await startTestServer({
      inspector: PASS_THROUGH_INSPECTOR,
      tls: {
        cert: serverFiles.cert,
        key: serverFiles.key,
        source: "file",
        clientCa: serverFiles.ca,
      },
    });
    port = Number(server.target.split(":").pop());
  });
  after(() => server.close());

  /** A TLS 1.2 handshake as Envoy's cluster makes it; resolves with the cipher or the error. */
  const handshake = (cipher: string, withClientCertificate: boolean) =>
    new Promise<string>((resolve) => {
      const socket = connect({
        host: "127.0.0.1",
        port,
        servername: "localhost",
        ALPNProtocols: ["h2"],
        ca: serverFiles.ca,
        maxVersion: "TLSv1.2",
        ciphers: cipher,
        ...(withClientCertificate ? { cert: clientFiles.cert, key: clientFiles.key } : {}),
      });
      socket.once("secureConnect", () => {
        // The server checks the client certificate once the handshake is done; if it keeps the
        // connection, its HTTP/2 SETTINGS arrive at once.
        const cipher = socket.getCipher().name;
        socket.once("data", () => {
          resolve(cipher);
          socket.destroy();
        });
      });
      socket.once("close", () => resolve("closed"));
      socket.on("error", (error) => resolve(`error: ${error.message}`));
    });

  for (const cipher of ENVOY_DEFAULT_RSA_CIPHERS) {
    test(`TLS 1.2 ${cipher} with Envoy's client certificate is accepted`, async () => {
      assert.equal(await handshake(cipher, true), cipher);
    });
  }

  test("the same handshake without the client certificate is refused", async () => {
    assert.notEqual(
      await handshake(ENVOY_DEFAULT_RSA_CIPHERS[0] ?? "", false),
      ENVOY_DEFAULT_RSA_CIPHERS[0],
    );
  });

  test("an RSA key exchange without forward secrecy is refused", async () => {
    assert.match(await handshake("AES128-GCM-SHA256", true), /handshake failure/);
  });
});
