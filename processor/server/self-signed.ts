/**
 * A minimal X.509 v3 certificate generator for the in-memory `localhost` certificate, built on
 * node:crypto so the processor needs no PKI dependency. Only what a TLS certificate needs:
 * ECDSA P-256 with SHA-256, SANs, basic constraints, key usage. The tests also make small CAs and
 * client certificates with it (mutual TLS), hence the optional issuer, CA flag and client usage.
 * DER rules: ITU-T X.690; certificate layout: RFC 5280 §4.1.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { isIPv4 } from "node:net";

/** Options of {@link createSelfSignedCertificate}. */
export interface SelfSignedOptions {
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly validDays: number;
  /** A CA certificate (can sign others) instead of a leaf. */
  readonly ca?: boolean;
  /** What a leaf is for: `server` (the default) or `client` authentication. */
  readonly usage?: "server" | "client";
  /** Signs with this CA (made by this module: its name is its common name); self-signed when absent. */
  readonly issuer?: { readonly commonName: string; readonly key: string };
}

/** Generates a key pair and a certificate (self-signed unless `issuer`); returns both as PEM. */
export function createSelfSignedCertificate(options: SelfSignedOptions): {
  cert: string;
  key: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + options.validDays * 86_400_000);
  const nameOf = (commonName: string) =>
    seq(set(seq(oid("2.5.4.3"), tlv(0x0c, Buffer.from(commonName, "utf8")))));
  const ecdsaWithSha256 = seq(oid("1.2.840.10045.4.3.2"));
  const serial = serialNumber(randomBytes(16));
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // version v3
    integer(serial),
    ecdsaWithSha256,
    nameOf(options.issuer?.commonName ?? options.commonName),
    seq(time(notBefore), time(notAfter)),
    nameOf(options.commonName),
    publicKey.export({ type: "spki", format: "der" }),
    tlv(0xa3, seq(...extensions(options))),
  );
  const signingKey = options.issuer ? createPrivateKey(options.issuer.key) : privateKey;
  const signature = sign("sha256", tbs, signingKey);
  const certificate = seq(
    tbs,
    ecdsaWithSha256,
    tlv(0x03, Buffer.concat([Buffer.from([0]), signature])),
  );
  return {
    cert: pem("CERTIFICATE", certificate),
    key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

/**
 * A certificate serial number from random bytes, as the content of a DER INTEGER: positive (top
 * bit clear) and minimally encoded (first byte not zero). A zero first byte followed by one below
 * 0x80 is a non-minimal encoding that OpenSSL rejects ("illegal padding"): one certificate in 256
 * would fail to load, so the first byte is kept in 0x40–0x7f.
 */
export function serialNumber(random: Buffer): Buffer {
  const serial = Buffer.from(random);
  serial[0] = ((serial[0] ?? 0) & 0x3f) | 0x40;
  return serial;
}

function extensions(options: SelfSignedOptions): Buffer[] {
  const names = [
    ...options.dnsNames.map((dns) => tlv(0x82, Buffer.from(dns, "ascii"))),
    ...options.ipAddresses.map((ip) => tlv(0x87, ipBytes(ip))),
  ];
  const critical = tlv(0x01, Buffer.from([0xff]));
  if (options.ca)
    return [
      seq(oid("2.5.29.19"), critical, octets(seq(tlv(0x01, Buffer.from([0xff]))))), // basicConstraints: CA
      seq(oid("2.5.29.15"), critical, octets(tlv(0x03, Buffer.from([0x01, 0x86])))), // keyUsage: digitalSignature, keyCertSign, cRLSign
    ];
  const purpose = options.usage === "client" ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1";
  return [
    seq(oid("2.5.29.19"), critical, octets(seq())), // basicConstraints: not a CA
    seq(oid("2.5.29.15"), critical, octets(tlv(0x03, Buffer.from([0x05, 0xa0])))), // keyUsage: digitalSignature, keyEncipherment
    seq(oid("2.5.29.37"), octets(seq(oid(purpose)))), // extKeyUsage: serverAuth or clientAuth
    ...(names.length > 0 ? [seq(oid("2.5.29.17"), octets(seq(...names)))] : []), // subjectAltName
  ];
}

function tlv(tag: number, value: Buffer): Buffer {
  const length = value.length;
  if (length < 0x80) return Buffer.concat([Buffer.from([tag, length]), value]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.concat([Buffer.from([tag, 0x80 | bytes.length, ...bytes]), value]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octets = (value: Buffer) => tlv(0x04, value);
const integer = (value: Buffer) => tlv(0x02, value);

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split(".").map(Number);
  const bytes = [40 * first + second];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let value = arc >>> 7; value > 0; value >>>= 7) chunk.unshift((value & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, "ascii"))
    : tlv(0x18, Buffer.from(`${iso}Z`, "ascii"));
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split(".").map(Number));
  const [head = "", tail = ""] = ip.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [
    ...groups(head),
    ...Array<string>(ip.includes("::") ? missing : 0).fill("0"),
    ...groups(tail),
  ];
  return Buffer.concat(all.map((group) => Buffer.from(group.padStart(4, "0"), "hex")));
}

function pem(label: string, der: Buffer): string {
  const body = der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trimEnd();
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}
