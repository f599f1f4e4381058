/**
 * Small PKIs for the TLS tests: a CA, a server certificate for `localhost` and client
 * certificates signed by it (mutual TLS), made with the processor's own certificate generator.
 */
import { createSelfSignedCertificate } from "../../processor/server/self-signed.ts";

/** A PEM certificate and its private key. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** A CA that issues server and client certificates. */
export interface TestCa extends KeyPair {
  /** A `localhost` server certificate (SANs localhost, 127.0.0.1, ::1). */
  server(): KeyPair;
  /** A client certificate for `commonName`. */
  client(commonName?: string): KeyPair;
}

/** Creates a CA named `commonName`. */
export function createTestCa(commonName = "aap-extproc test CA"): TestCa {
  const ca = createSelfSignedCertificate({
    commonName,
    dnsNames: [],
    ipAddresses: [],
    validDays: 2,
    ca: true,
  });
  const issuer = { commonName, key: ca.key };
  return {
    ...ca,
    server: () =>
      createSelfSignedCertificate({
        commonName: "localhost",
        dnsNames: ["localhost"],
        ipAddresses: ["127.0.0.1", "::1"],
        validDays: 1,
        issuer,
      }),
    client: (name = "envoy") =>
      createSelfSignedCertificate({
        commonName: name,
        dnsNames: [],
        ipAddresses: [],
        validDays: 1,
        usage: "client",
        issuer,
      }),
  };
}
