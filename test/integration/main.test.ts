/**
 * The real processor as a child process: configuration errors, health states, TLS certificate
 * rotation, unix socket mode, and graceful shutdown with open streams.
 */
import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { describeCertificate, generateSelfSigned } from "../../processor/server/index.ts";
import { createClient, exchange, openStream, status } from "../support/grpc-client.ts";
import {
  getHeaders,
  kindOf,
  requestBody,
  requestHeaders,
  responseHeaders,
} from "../support/messages.ts";
import { getHealth, spawnProcessor, startProcessor } from "../support/processor-process.ts";

/** A temporary directory, removed once the file's tests are over. */
const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "aap-main-"));
  tempDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function writeCertificate(dir: string, name: string) {
  const material = generateSelfSigned();
  writeFileSync(join(dir, `${name}.crt`), material.cert);
  writeFileSync(join(dir, `${name}.key`), material.key);
  return material;
}

/** The SHA-256 fingerprint of the certificate a new TLS connection is served. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      {
        host: "127.0.0.1",
        port,
        servername: "localhost",
        rejectUnauthorized: false,
        ALPNProtocols: ["h2"],
      },
      () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.destroy();
      },
    );
    socket.on("error", reject);
  });
}

describe("startup configuration", () => {
  test("invalid variables stop startup with exit code 2 and one line per variable", async (t) => {
    const processor = spawnProcessor({
      DD_SERVICE_EXTENSION_PORT: "http",
      DD_APPSEC_WAF_TIMEOUT: "soon",
      DD_SERVICE_EXTENSION_TLS: "maybe",
    });
    t.after(() => processor.stop());
    assert.equal(await processor.exited, 2);
    const errors = processor.logs.filter((line) => line.level === "error");
    assert.deepEqual(errors.map((line) => line.variable).sort(), [
      "DD_APPSEC_WAF_TIMEOUT",
      "DD_SERVICE_EXTENSION_PORT",
      "DD_SERVICE_EXTENSION_TLS",
    ]);
    assert.ok(
      errors.every(
        (line) =>
          typeof line.msg === "string" && /^invalid DD_[A-Z_]+=".*": expected /.test(line.msg),
      ),
    );
    assert.deepEqual(processor.rawLines, []);
  });

  test("an unknown DD_SERVICE_EXTENSION_ variable is warned about, not fatal", async (t) => {
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_SERVICE_EXTENSION_OBSERVABILTY_MODE: "true",
    });
    t.after(() => processor.stop());
    assert.ok(
      processor.logs.some(
        (line) =>
          line.level === "warn" &&
          String(line.msg).includes("DD_SERVICE_EXTENSION_OBSERVABILTY_MODE"),
      ),
    );
    processor.kill();
    assert.equal(await processor.exited, 0);
  });

  test("a certificate without its key stops startup with exit code 1", async (t) => {
    const dir = tempDir();
    writeCertificate(dir, "server");
    const processor = spawnProcessor({
      DD_SERVICE_EXTENSION_PORT: "0",
      DD_SERVICE_EXTENSION_HEALTHCHECK_PORT: "0",
      DD_SERVICE_EXTENSION_TLS_CERT_FILE: join(dir, "server.crt"),
      DD_SERVICE_EXTENSION_TLS_KEY_FILE: join(dir, "missing.key"),
    });
    t.after(() => processor.stop());
    assert.equal(await processor.exited, 1);
    assert.ok(processor.logs.some((line) => line.msg === "startup failed" && line.code === "tls"));
  });

  test("a port already in use stops startup with exit code 1", async (t) => {
    const first = await startProcessor({ DD_SERVICE_EXTENSION_TLS: "false" });
    t.after(() => first.stop());
    const second = spawnProcessor({
      DD_SERVICE_EXTENSION_PORT: String(first.grpcPort),
      DD_SERVICE_EXTENSION_HEALTHCHECK_PORT: "0",
      DD_SERVICE_EXTENSION_TLS: "false",
    });
    assert.equal(await second.exited, 1);
    assert.ok(second.logs.some((line) => line.msg === "startup failed" && line.code === "listen"));
  });
});

describe("serving", () => {
  test("with the default TLS and no certificate files, a self-signed localhost certificate is generated and served", async (t) => {
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS_CERT_FILE: join(tempDir(), "none.crt"),
      DD_SERVICE_EXTENSION_TLS_KEY_FILE: join(tempDir(), "none.key"),
    });
    t.after(() => processor.stop());
    assert.ok(
      processor.logs.some(
        (line) => line.level === "warn" && String(line.msg).includes("self-signed"),
      ),
    );
    const client = createClient(`127.0.0.1:${processor.grpcPort}`, { insecureSkipVerify: true });
    t.after(() => client.close());
    const stream = openStream(client);
    assert.equal(
      kindOf(await exchange(stream, requestHeaders(getHeaders(), true))),
      "requestHeaders",
    );
    // Finish the exchange: an open stream would hold the drain until its timeout.
    assert.equal(
      kindOf(await exchange(stream, responseHeaders({ ":status": "200" }, true))),
      "responseHeaders",
    );
    client.close();
    processor.kill();
    assert.equal(await processor.exited, 0);
  });

  test("health answers 200 with the Go-compatible JSON shape when ready", async (t) => {
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_VERSION: "9.9.9",
    });
    t.after(() => processor.stop());
    const health = await getHealth(processor.healthPort ?? 0);
    assert.equal(health.status, 200);
    assert.equal(health.body.status, "ok");
    assert.deepEqual(health.body.library, { language: "nodejs", version: "9.9.9" });
    const other = await fetch(`http://127.0.0.1:${processor.healthPort}/any/path`, {
      method: "POST",
    });
    assert.equal(other.status, 200);
  });

  test("serves on a unix socket without TLS when DD_SERVICE_EXTENSION_UDS_PATH is set", async (t) => {
    const socket = join(tempDir(), "extproc.sock");
    const processor = await startProcessor({ DD_SERVICE_EXTENSION_UDS_PATH: socket });
    t.after(() => processor.stop());
    const client = createClient(`unix:${socket}`);
    t.after(() => client.close());
    const stream = openStream(client);
    assert.equal(
      kindOf(await exchange(stream, requestHeaders(getHeaders(), true))),
      "requestHeaders",
    );
    // Finish the exchange: an open stream would hold the drain until its timeout.
    assert.equal(
      kindOf(await exchange(stream, responseHeaders({ ":status": "200" }, true))),
      "responseHeaders",
    );
    client.close();
    processor.kill();
    assert.equal(await processor.exited, 0);
  });

  test("a rotated certificate is served to new connections while an open stream keeps working", async (t) => {
    const dir = tempDir();
    const first = writeCertificate(dir, "tls");
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS_CERT_FILE: join(dir, "tls.crt"),
      DD_SERVICE_EXTENSION_TLS_KEY_FILE: join(dir, "tls.key"),
      DD_SERVICE_EXTENSION_TLS_RELOAD_INTERVAL: "0.1s",
    });
    t.after(() => processor.stop());
    const port = processor.grpcPort ?? 0;
    assert.equal(await servedFingerprint(port), describeCertificate(first.cert).fingerprint);
    const client = createClient(`127.0.0.1:${port}`, { ca: first.cert });
    t.after(() => client.close());
    const stream = openStream(client);
    await exchange(
      stream,
      requestHeaders(getHeaders("/upload", { "content-type": "text/plain" }), false),
    );

    // Rotate the way a volume update does: new files appear atomically.
    const second = generateSelfSigned();
    writeFileSync(join(dir, "next.crt"), second.cert);
    writeFileSync(join(dir, "next.key"), second.key);
    renameSync(join(dir, "next.key"), join(dir, "tls.key"));
    renameSync(join(dir, "next.crt"), join(dir, "tls.crt"));
    await processor.waitForLog((line) => line.msg === "TLS certificate reloaded");
    assert.equal(await servedFingerprint(port), describeCertificate(second.cert).fingerprint);

    // The stream opened on the old certificate goes on.
    assert.equal(kindOf(await exchange(stream, requestBody("still here", true))), "requestBody");
    assert.equal(
      kindOf(await exchange(stream, responseHeaders({ ":status": "200" }, true))),
      "responseHeaders",
    );
    assert.equal((await stream.status).code, status.OK);
    client.close();
    processor.kill();
    assert.equal(await processor.exited, 0);
  });
});

describe("shutdown", () => {
  test("SIGTERM: health turns 503, open streams finish, then exit 0", async (t) => {
    const processor = await startProcessor({ DD_SERVICE_EXTENSION_TLS: "false" });
    t.after(() => processor.stop());
    const client = createClient(`127.0.0.1:${processor.grpcPort}`);
    t.after(() => client.close());
    const stream = openStream(client);
    await exchange(
      stream,
      requestHeaders(getHeaders("/upload", { "content-type": "text/plain" }), false),
    );
    processor.kill("SIGTERM");
    await processor.waitForLog((line) => String(line.msg).startsWith("shutting down"));
    const health = await getHealth(processor.healthPort ?? 0);
    assert.equal(health.status, 503);
    assert.equal(health.body.status, "draining");
    // The open stream is still served during the drain.
    assert.equal(kindOf(await exchange(stream, requestBody("last chunk", true))), "requestBody");
    assert.equal(
      kindOf(await exchange(stream, responseHeaders({ ":status": "200" }, true))),
      "responseHeaders",
    );
    client.close();
    assert.equal(await processor.exited, 0);
    assert.ok(processor.logs.some((line) => line.msg === "shutdown complete"));
  });

  test("a stream still open at the drain timeout is cancelled and the process exits 0", async (t) => {
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_SERVICE_EXTENSION_DRAIN_TIMEOUT: "300ms",
    });
    t.after(() => processor.stop());
    const client = createClient(`127.0.0.1:${processor.grpcPort}`);
    t.after(() => client.close());
    const stream = openStream(client);
    await exchange(
      stream,
      requestHeaders(getHeaders("/upload", { "content-type": "text/plain" }), false),
    );
    const started = Date.now();
    processor.kill("SIGTERM");
    assert.equal(await processor.exited, 0);
    assert.ok(Date.now() - started >= 250, "waited for the drain timeout");
    assert.ok(processor.logs.some((line) => String(line.msg).startsWith("drain timeout reached")));
    assert.notEqual((await stream.status).code, status.OK);
  });

  test("a second signal exits at once with code 1", async (t) => {
    const processor = await startProcessor({
      DD_SERVICE_EXTENSION_TLS: "false",
      DD_SERVICE_EXTENSION_DRAIN_TIMEOUT: "30s",
    });
    t.after(() => processor.stop());
    const client = createClient(`127.0.0.1:${processor.grpcPort}`);
    t.after(() => client.close());
    const stream = openStream(client);
    await exchange(
      stream,
      requestHeaders(getHeaders("/upload", { "content-type": "text/plain" }), false),
    );
    processor.kill("SIGTERM");
    await processor.waitForLog((line) => String(line.msg).startsWith("shutting down"));
    processor.kill("SIGINT");
    assert.equal(await processor.exited, 1);
  });
});
