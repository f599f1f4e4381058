/**
 * Builds Agent `/v0.7/config` responses for tests: configs by path, with the TUF `targets`
 * envelope, hashes and versions the protocol carries (unsigned, as a fake Agent may).
 */
import { createHash } from "node:crypto";

/** One config served: its content (an object, or raw text for broken payloads) and version. */
export interface ServedConfig {
  readonly path: string;
  readonly content?: unknown;
  /** Raw file text; wins over `content` (invalid JSON, wrong encodings). */
  readonly raw?: string;
  readonly version?: number;
}

/** Options of {@link rcResponse}. */
export interface ResponseOptions {
  /** `signed.version`. */
  readonly targetsVersion: number;
  /** Paths whose file is left out of `target_files` (as if the client had it cached). */
  readonly omitFiles?: readonly string[];
  readonly backendState?: string;
}

function fileText(config: ServedConfig): string {
  return config.raw ?? JSON.stringify(config.content);
}

/** The response body serving `configs` (all of them apply to the client). */
export function rcResponse(configs: readonly ServedConfig[], options: ResponseOptions): object {
  const targets: Record<string, unknown> = {};
  for (const config of configs) {
    const text = fileText(config);
    targets[config.path] = {
      custom: { v: config.version ?? 1 },
      hashes: { sha256: createHash("sha256").update(text).digest("hex") },
      length: Buffer.byteLength(text),
    };
  }
  const signed = {
    _type: "targets",
    custom: { opaque_backend_state: options.backendState ?? "state" },
    expires: "2099-01-01T00:00:00Z",
    spec_version: "1.0.0",
    targets,
    version: options.targetsVersion,
  };
  const omitted = new Set(options.omitFiles ?? []);
  return {
    targets: Buffer.from(JSON.stringify({ signed, signatures: [] })).toString("base64"),
    target_files: configs
      .filter((c) => !omitted.has(c.path))
      .map((c) => ({ path: c.path, raw: Buffer.from(fileText(c)).toString("base64") })),
    client_configs: configs.map((c) => c.path),
  };
}
