/**
 * TLS material for the gRPC listener: read from the configured PEM files, or generated in memory
 * (self-signed for `localhost`, as the Go image's build-time certificate) when neither file exists,
 * and reloaded when the files change on disk (cert-manager rotation) without a restart. Existing
 * connections keep the context they were opened with, so open streams are never broken.
 */
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { StartupError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { createSelfSignedCertificate } from "./self-signed.ts";

/** A certificate chain and its private key, PEM-encoded. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** `file` when read from disk, `generated` when made at startup. */
  readonly source: "file" | "generated";
}

/** The certificate and key paths. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * Reads the certificate and key, or generates a self-signed pair when neither file exists.
 * One file without the other, unreadable files and mismatched or invalid PEM stop startup.
 */
export async function loadTlsMaterial(files: TlsFiles, log: Logger): Promise<TlsMaterial> {
  const certExists = existsSync(files.certFile);
  const keyExists = existsSync(files.keyFile);
  if (!certExists && !keyExists) {
    const material = generateSelfSigned();
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
  return read.material;
}

type PairResult = { ok: true; material: TlsMaterial } | { ok: false; error: string };

/** Reads and checks a certificate/key pair from disk; never throws. */
function readPair(files: TlsFiles): PairResult {
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(files.certFile, "utf8");
    key = readFileSync(files.keyFile, "utf8");
  } catch (error) {
    return { ok: false, error: `cannot read TLS files: ${(error as Error).message}` };
  }
  try {
    // Throws on unparsable PEM and on a key that does not match the certificate.
    createSecureContext({ cert, key });
  } catch (error) {
    return { ok: false, error: `invalid TLS certificate or key: ${(error as Error).message}` };
  }
  return { ok: true, material: { cert, key, source: "file" } };
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
    const read = readPair(files);
    if (!read.ok) {
      if (read.error !== lastError)
        log.warn("TLS reload failed; keeping the current certificate", { error: read.error });
      lastError = read.error;
      return;
    }
    lastError = "";
    if (read.material.cert === current.cert && read.material.key === current.key) return;
    server.setTls(read.material);
    current = read.material;
    log.info("TLS certificate reloaded", describeCertificate(current.cert));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
