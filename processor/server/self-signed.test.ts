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
