/**
 * The Remote Configuration wire format of the Datadog Agent's `/v0.7/config` endpoint: the products
 * and capability bits a client advertises, the request it sends and the response it gets. Neutral:
 * no HTTP, no WAF. See docs/remote-configuration.md.
 */
import { err, ok, type Result } from "../result.ts";

/** The products this processor can subscribe to. */
export const PRODUCTS = Object.freeze({
  /** A whole WAF ruleset that replaces the bundled one. */
  ASM_DD: "ASM_DD",
  /** Data the rules read: blocked IPs and users, exclusion data (with expirations). */
  ASM_DATA: "ASM_DATA",
  /** Exclusions, rule overrides, custom rules, actions (custom block responses), processors. */
  ASM: "ASM",
});

/** One of {@link PRODUCTS}. */
export type Product = (typeof PRODUCTS)[keyof typeof PRODUCTS];

/** Apply states reported back to the Agent per config. */
export const APPLY_STATE = Object.freeze({ UNACKNOWLEDGED: 1, ACKNOWLEDGED: 2, ERROR: 3 });

/** Capability bit indexes (bit n of the big-endian bitfield), as the Datadog backend defines them. */
export const CAPABILITY = Object.freeze({
  ASM_IP_BLOCKING: 2,
  ASM_DD_RULES: 3,
  ASM_EXCLUSIONS: 4,
  ASM_REQUEST_BLOCKING: 5,
  ASM_USER_BLOCKING: 7,
  ASM_CUSTOM_RULES: 8,
  ASM_CUSTOM_BLOCKING_RESPONSE: 9,
  ASM_TRUSTED_IPS: 10,
  ASM_PROCESSOR_OVERRIDES: 16,
  ASM_CUSTOM_DATA_SCANNERS: 17,
  ASM_EXCLUSION_DATA: 18,
  ASM_ENDPOINT_FINGERPRINT: 32,
  ASM_SESSION_FINGERPRINT: 33,
  ASM_NETWORK_FINGERPRINT: 34,
  ASM_HEADER_FINGERPRINT: 35,
  ASM_DD_MULTICONFIG: 42,
  ASM_TRACE_TAGGING_RULES: 43,
});

/** What a processor subscribes to, decided from its configuration. */
export interface Subscription {
  readonly products: readonly Product[];
  readonly capabilities: readonly number[];
}

/**
 * Products and capabilities as Datadog's Go processor advertises them in proxy mode: detection
 * capabilities always; blocking ones (IP, request, user, custom block response) only when the
 * processor may block. A ruleset pinned by `DD_APPSEC_RULES` is never replaced: `ASM_DD` is then
 * neither requested nor advertised. RASP capabilities are left out: nothing in a proxy can raise
 * a RASP event.
 */
export function subscriptionFor(options: {
  readonly blocking: boolean;
  readonly rulesPinned: boolean;
}): Subscription {
  const c = CAPABILITY;
  const capabilities: number[] = [
    c.ASM_EXCLUSIONS,
    c.ASM_CUSTOM_RULES,
    c.ASM_TRUSTED_IPS,
    c.ASM_PROCESSOR_OVERRIDES,
    c.ASM_CUSTOM_DATA_SCANNERS,
    c.ASM_EXCLUSION_DATA,
    c.ASM_ENDPOINT_FINGERPRINT,
    c.ASM_SESSION_FINGERPRINT,
    c.ASM_NETWORK_FINGERPRINT,
    c.ASM_HEADER_FINGERPRINT,
    c.ASM_DD_MULTICONFIG,
    c.ASM_TRACE_TAGGING_RULES,
  ];
  if (!options.rulesPinned) capabilities.push(c.ASM_DD_RULES);
  if (options.blocking) {
    capabilities.push(
      c.ASM_IP_BLOCKING,
      c.ASM_REQUEST_BLOCKING,
      c.ASM_USER_BLOCKING,
      c.ASM_CUSTOM_BLOCKING_RESPONSE,
    );
  }
  const products: Product[] = [PRODUCTS.ASM, PRODUCTS.ASM_DATA];
  if (!options.rulesPinned) products.push(PRODUCTS.ASM_DD);
  return { products, capabilities: capabilities.sort((a, b) => a - b) };
}

/** Base64 of the minimal big-endian bytes of the bitfield; `AA==` when no bit is set. */
export function encodeCapabilities(bits: readonly number[]): string {
  let field = 0n;
  for (const bit of bits) field |= 1n << BigInt(bit);
  const bytes: number[] = [];
  while (field > 0n) {
    bytes.unshift(Number(field & 0xffn));
    field >>= 8n;
  }
  return Buffer.from(bytes.length === 0 ? [0] : bytes).toString("base64");
}

/** A config path split into its parts. */
export interface ConfigPath {
  readonly product: string;
  readonly id: string;
  readonly name: string;
}

/** `datadog/<org>/<PRODUCT>/<id>/<name>` or `employee/<PRODUCT>/<id>/<name>`; else undefined. */
export function parseConfigPath(path: string): ConfigPath | undefined {
  const parts = path.split("/");
  if (parts[0] === "datadog" && parts.length === 5 && /^\d+$/.test(parts[1] ?? "")) {
    return part(parts[2], parts[3], parts[4]);
  }
  if (parts[0] === "employee" && parts.length === 4) return part(parts[1], parts[2], parts[3]);
  return undefined;
}

function part(product = "", id = "", name = ""): ConfigPath | undefined {
  return product !== "" && id !== "" && name !== "" ? { product, id, name } : undefined;
}

/** One entry of `signed.targets`. */
export interface TargetEntry {
  readonly length: number;
  readonly sha256: string;
  /** `custom.v`: the config's version. */
  readonly version: number;
}

/** A decoded Agent response. `undefined` fields were absent (the Agent's `{}`: nothing changed). */
export interface AgentResponse {
  /** Absent when the Agent has nothing new for this client. */
  readonly targets?: {
    readonly version: number;
    readonly backendState: string | undefined;
    readonly entries: ReadonlyMap<string, TargetEntry>;
  };
  /** Path → raw bytes of the files sent with this response. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** Paths that apply to this client. */
  readonly clientConfigs: readonly string[];
}

/**
 * Decodes the response body, or says why it cannot be used at all. Only a structurally broken response (not JSON, `targets` not base64
 * JSON, wrong field types) fails as a whole; a bad individual file is left for the state to report
 * against its own path, so one bad file never blocks the others.
 */
export function parseAgentResponse(body: string): Result<AgentResponse, string> {
  let json: unknown;
  try {
    json = JSON.parse(body === "" ? "{}" : body);
  } catch {
    return err("response is not JSON");
  }
  if (!isRecord(json)) return err("response is not a JSON object");
  const files = new Map<string, Buffer>();
  const targetFiles = json.target_files ?? [];
  if (!Array.isArray(targetFiles)) return err("target_files is not an array");
  for (const file of targetFiles) {
    if (!isRecord(file) || typeof file.path !== "string" || typeof file.raw !== "string") {
      return err("a target_files entry has no string path or raw");
    }
    files.set(file.path, Buffer.from(file.raw, "base64"));
  }
  const clientConfigs = json.client_configs ?? [];
  if (!Array.isArray(clientConfigs) || !clientConfigs.every((p) => typeof p === "string")) {
    return err("client_configs is not an array of strings");
  }
  if (json.targets === undefined || json.targets === null || json.targets === "") {
    return ok({ files, clientConfigs });
  }
  if (typeof json.targets !== "string") return err("targets is not a string");
  const targets = parseTargets(json.targets);
  if (!targets.ok) return targets;
  return ok({ targets: targets.value, files, clientConfigs });
}

type Targets = NonNullable<AgentResponse["targets"]>;

function parseTargets(encoded: string): Result<Targets, string> {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(encoded, "base64").toString("utf8"));
  } catch {
    return err("targets is not base64 JSON");
  }
  const signed = isRecord(decoded) ? decoded.signed : undefined;
  if (!isRecord(signed) || typeof signed.version !== "number" || !isRecord(signed.targets)) {
    return err("targets.signed has no version or targets");
  }
  const entries = new Map<string, TargetEntry>();
  for (const [path, entry] of Object.entries(signed.targets)) {
    const hashes = isRecord(entry) ? entry.hashes : undefined;
    const custom = isRecord(entry) ? entry.custom : undefined;
    const sha256 = isRecord(hashes) ? hashes.sha256 : undefined;
    if (!isRecord(entry) || typeof sha256 !== "string") continue;
    entries.set(path, {
      length: typeof entry.length === "number" ? entry.length : 0,
      sha256,
      version: isRecord(custom) && typeof custom.v === "number" ? custom.v : 0,
    });
  }
  const custom = signed.custom;
  const backendState =
    isRecord(custom) && typeof custom.opaque_backend_state === "string"
      ? custom.opaque_backend_state
      : undefined;
  return ok({ version: signed.version, backendState, entries });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
