/**
 * TLS material for the gRPC listener: read from the configured PEM files, or generated in memory
 * (self-signed for `localhost`, as the Go image's build-time certificate) when neither file exists,
 * and reloaded when the files change on disk (cert-manager rotation) without a restart. Existing
 * connections keep the context they were opened with, so open streams are never broken.
 *
 * With a client CA file (mutual TLS), only clients presenting a certificate signed by one of its
 * CAs complete the handshake; the CA bundle is reloaded like the certificate.
 */
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { StartupError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { err, ok, type Result } from "../result.ts";
import { createSelfSignedCertificate } from "./self-signed.ts";

/** A certificate chain and its private key, PEM-encoded. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** `file` when read from disk, `generated` when made at startup. */
  readonly source: "file" | "generated";
  /** PEM bundle of the CAs client certificates must chain to; no client certificate asked when absent. */
  readonly clientCa?: string;
}

/** The certificate and key paths. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM bundle of the CAs that sign client certificates (mutual TLS); absent: no client certificate. */
  readonly clientCaFile?: string | undefined;
}

/**
 * Reads the certificate and key, or generates a self-signed pair when neither file exists.
 * One file without the other, unreadable files and mismatched or invalid PEM stop startup.
 */
export async function loadTlsMaterial(files: TlsFiles, log: Logger): Promise<TlsMaterial> {
  const clientCa = files.clientCaFile === undefined ? undefined : readClientCa(files.clientCaFile);
  if (clientCa !== undefined && !clientCa.ok) throw new StartupError("tls", clientCa.error);
  const withClientCa = (material: TlsMaterial): TlsMaterial =>
    clientCa === undefined ? material : { ...material, clientCa: clientCa.value };
  const certExists = existsSync(files.certFile);
  const keyExists = existsSync(files.keyFile);
  if (!certExists && !keyExists) {
    const material = withClientCa(generateSelfSigned());
    log.warn(
      "TLS files not found: serving a self-signed certificate for localhost generated in memory",
      {
        certFile: files.certFile,
        keyFile: files.keyFile,
      },
    );
    return material;
  }
  if (!certExists || !keyExists) {
    const missing = certExists ? files.keyFile : files.certFile;
    throw new StartupError(
      "tls",
      `TLS file ${missing} does not exist (both certificate and key are needed)`,
    );
  }
  const read = readPair(files);
  if (!read.ok) throw new StartupError("tls", read.error);
  return withClientCa(read.value);
}

/** The PEM certificate blocks of a bundle, in order. */
function pemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * Reads a client CA bundle and checks that it holds at least one parsable CA certificate: an empty
 * or wrong file would otherwise refuse every client (or, worse, be mistaken for "no mutual TLS").
 * The value is the bundle's PEM, the error says what is wrong.
 */
export function readClientCa(file: string): Result<string, string> {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (error) {
    return err(`cannot read the client CA file: ${(error as Error).message}`);
  }
  const blocks = pemCertificates(pem);
  if (blocks.length === 0) return err(`client CA file ${file} holds no PEM certificate`);
  for (const [index, block] of blocks.entries()) {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(block);
    } catch (error) {
      return err(
        `client CA file ${file}: certificate ${index + 1} is invalid: ${(error as Error).message}`,
      );
    }
    if (!certificate.ca)
      return err(
        `client CA file ${file}: certificate ${index + 1} (${certificate.subject.replaceAll("\n", ", ")}) is not a CA certificate`,
      );
  }
  try {
    createSecureContext({ ca: pem });
  } catch (error) {
    return err(`invalid client CA file ${file}: ${(error as Error).message}`);
  }
  return ok(pem);
}

/** The material read, or why it could not be used (for the startup error or the reload log). */
type MaterialResult = Result<TlsMaterial, string>;

/** Reads and checks a certificate/key pair from disk; never throws. */
function readPair(files: TlsFiles): MaterialResult {
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(files.certFile, "utf8");
    key = readFileSync(files.keyFile, "utf8");
  } catch (error) {
    return err(`cannot read TLS files: ${(error as Error).message}`);
  }
  try {
    // Throws on unparsable PEM and on a key that does not match the certificate.
    createSecureContext({ cert, key });
  } catch (error) {
    return err(`invalid TLS certificate or key: ${(error as Error).message}`);
  }
  return ok({ cert, key, source: "file" });
}

/**
 * The pair from disk and, for mutual TLS, the client CA bundle. Generated material (no files) is
 * never replaced; only its client CA may rotate.
 */
function readMaterial(files: TlsFiles, current: TlsMaterial): MaterialResult {
  const pair = current.source === "file" ? readPair(files) : ok(current);
  if (!pair.ok || files.clientCaFile === undefined) return pair;
  const clientCa = readClientCa(files.clientCaFile);
  if (!clientCa.ok) return clientCa;
  return ok({ ...pair.value, clientCa: clientCa.value });
}

/** A short description of a certificate for logs (no secrets). */
export function describeCertificate(pem: string): {
  subject: string;
  validTo: string;
  fingerprint: string;
} {
  const certificate = new X509Certificate(pem);
  return {
    subject: certificate.subject.replaceAll("\n", ", "),
    validTo: certificate.validTo,
    fingerprint: certificate.fingerprint256,
  };
}

/** The subjects of the CAs in a client CA bundle, for the startup log (no secrets). */
export function describeClientCa(pem: string): string[] {
  return pemCertificates(pem).map((block) =>
    new X509Certificate(block).subject.replaceAll("\n", ", "),
  );
}

/**
 * Generates an ECDSA P-256 certificate for `localhost` (SANs `localhost`, 127.0.0.1, ::1), valid
 * for ten years like the Go image's. Envoy's default UpstreamTlsContext does not verify it; SNI
 * `localhost` matches it for clients that do.
 */
export function generateSelfSigned(): TlsMaterial {
  const pair = createSelfSignedCertificate({
    commonName: "localhost",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1", "::1"],
    validDays: 3660,
  });
  return { ...pair, source: "generated" };
}

/**
 * Polls the certificate files and swaps the server's secure context when their content changes.
 * Polling (not fs.watch) because Kubernetes updates mounted secrets by swapping a symlink, which
 * file watchers miss. A half-written rotation (new cert, old key) fails the check and is retried at
 * the next tick; the previous certificate stays in use meanwhile. Returns a function that stops it.
 */
export function watchTlsFiles(
  server: { setTls(material: TlsMaterial): void },
  files: TlsFiles,
  initial: TlsMaterial,
  intervalMs: number,
  log: Logger,
): () => void {
  let current = initial;
  let lastError = "";
  const timer = setInterval(() => {
    const read = readMaterial(files, current);
    if (!read.ok) {
      if (read.error !== lastError)
        log.warn("TLS reload failed; keeping the current certificate", { error: read.error });
      lastError = read.error;
      return;
    }
    lastError = "";
    const next = read.value;
    if (
      next.cert === current.cert &&
      next.key === current.key &&
      next.clientCa === current.clientCa
    )
      return;
    server.setTls(next);
    const caChanged = next.clientCa !== current.clientCa;
    current = next;
    log.info("TLS certificate reloaded", {
      ...describeCertificate(current.cert),
      ...(caChanged ? { clientCaReloaded: true } : {}),
    });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
