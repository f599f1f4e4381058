import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { test } from "node:test";
import { createSelfSignedCertificate, serialNumber } from "./self-signed.ts";

test("serial numbers are positive and minimally encoded whatever the random bytes", () => {
  for (const first of [0x00, 0x01, 0x3f, 0x7f, 0x80, 0xff]) {
    const random = Buffer.alloc(16, 0);
    random[0] = first;
    const serial = serialNumber(random);
    assert.ok((serial[0] ?? 0) >= 0x40 && (serial[0] ?? 0) <= 0x7f, `first byte ${first}`);
    assert.equal(serial.length, 16);
  }
});

test("generated certificates parse (the serial's zero first byte used to fail 1 in 256)", () => {
  for (let i = 0; i < 64; i++) {
    const { cert } = createSelfSignedCertificate({
      commonName: "localhost",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      validDays: 1,
    });
    const parsed = new X509Certificate(cert);
    assert.equal(parsed.serialNumber.length, 32);
    assert.match(parsed.subject, /CN=localhost/);
  }
});

test("a CA and the client certificate it issues chain and carry the right extensions", () => {
  const ca = createSelfSignedCertificate({
    commonName: "test CA",
    dnsNames: [],
    ipAddresses: [],
    validDays: 1,
    ca: true,
  });
  const client = createSelfSignedCertificate({
    commonName: "envoy",
    dnsNames: [],
    ipAddresses: [],
    validDays: 1,
    usage: "client",
    issuer: { commonName: "test CA", key: ca.key },
  });
  const caCert = new X509Certificate(ca.cert);
  const clientCert = new X509Certificate(client.cert);
  assert.equal(caCert.ca, true);
  assert.equal(clientCert.ca, false);
  assert.ok(clientCert.checkIssued(caCert));
  assert.ok(clientCert.verify(caCert.publicKey));
  assert.deepEqual(clientCert.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
  assert.equal(clientCert.subjectAltName, undefined);
});
