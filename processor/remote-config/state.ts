/**
 * The client side of the Remote Configuration protocol, without I/O: what the client reports in
 * each request (versions, config states, cached files) and which configs a response adds, changes
 * or removes. Every problem with one file is recorded against that file's path (apply state
 * error, with a reason) and never stops the other files of the response from applying.
 */
import { createHash } from "node:crypto";
import type { Result } from "../result.ts";
import {
  type AgentResponse,
  APPLY_STATE,
  isRecord,
  parseConfigPath,
  type TargetEntry,
} from "./protocol.ts";

/** A config to apply (new or changed) or to remove. */
export type ConfigChange =
  | {
      readonly kind: "apply";
      readonly path: string;
      readonly product: string;
      readonly config: Record<string, unknown>;
    }
  | { readonly kind: "remove"; readonly path: string; readonly product: string };

/** A file of a response that could not be used (recorded as an apply error). */
export interface Rejected {
  readonly path: string;
  readonly product: string;
  readonly error: string;
}

/** What {@link RemoteConfigState.ingest} found in a response. */
export interface Ingested {
  readonly changes: ConfigChange[];
  readonly rejected: readonly Rejected[];
}

/** How applying one {@link ConfigChange} went, by path; the error is reported to the Agent. */
export type ApplyOutcome = { readonly path: string } & Result<undefined, string>;

/** One config the client knows about, as reported in `config_states`. */
export interface TrackedConfig {
  readonly path: string;
  readonly product: string;
  readonly id: string;
  readonly version: number;
  readonly sha256: string;
  readonly length: number;
  readonly applyState: number;
  readonly applyError: string | undefined;
}

interface Tracked {
  path: string;
  product: string;
  id: string;
  version: number;
  sha256: string;
  length: number;
  applyState: number;
  applyError: string | undefined;
  /** Some version of this path is in force (so removing the path must unapply it). */
  applied: boolean;
}

/** The `client.state` object of a request. */
export interface RequestState {
  root_version: number;
  targets_version: number;
  config_states: Array<{
    id: string;
    version: number;
    product: string;
    apply_state: number;
    apply_error?: string;
  }>;
  has_error: boolean;
  error?: string;
  backend_client_state?: string;
}

/** One `cached_target_files` entry. */
export interface CachedFile {
  path: string;
  length: number;
  hashes: Array<{ algorithm: "sha256"; hash: string }>;
}

/** Protocol state of one client. */
export class RemoteConfigState {
  readonly #products: ReadonlySet<string>;
  readonly #tracked = new Map<string, Tracked>();
  #rejected: Rejected[] = [];
  #targetsVersion = 0;
  #backendState: string | undefined;
  #responseError: string | undefined;

  constructor(products: readonly string[]) {
    this.#products = new Set(products);
  }

  /** The configs known, with their apply states. */
  get configs(): readonly TrackedConfig[] {
    return [...this.#tracked.values()].map((t) => ({ ...t }));
  }

  get targetsVersion(): number {
    return this.#targetsVersion;
  }

  /** The last response could not be used at all; reported (`has_error`) in the next request. */
  failResponse(error: string): void {
    this.#responseError = error;
  }

  /**
   * Takes in a response and returns the changes to apply: removals first, then new and changed
   * configs sorted by path. Files that cannot be used are recorded as errors here and produce no
   * change, so whatever version of them was in force stays in force.
   */
  ingest(response: AgentResponse): Ingested {
    this.#responseError = undefined;
    this.#rejected = [];
    const { targets } = response;
    if (targets === undefined) return { changes: [], rejected: [] };
    this.#targetsVersion = targets.version;
    this.#backendState = targets.backendState;
    const wanted = new Set(response.clientConfigs);
    const changes: ConfigChange[] = [];
    for (const [path, tracked] of this.#tracked) {
      if (wanted.has(path)) continue;
      this.#tracked.delete(path);
      if (tracked.applied) changes.push({ kind: "remove", path, product: tracked.product });
    }
    for (const path of [...wanted].sort()) {
      const change = this.#ingestOne(path, targets.entries.get(path), response.files.get(path));
      if (change !== undefined) changes.push(change);
    }
    return { changes, rejected: this.#rejected };
  }

  #ingestOne(
    path: string,
    entry: TargetEntry | undefined,
    file: Buffer | undefined,
  ): ConfigChange | undefined {
    const parsed = parseConfigPath(path);
    const tracked = this.#track(path, parsed?.product ?? "unknown", parsed?.id ?? path);
    const fail = (error: string): undefined => {
      tracked.applyState = APPLY_STATE.ERROR;
      tracked.applyError = error;
      this.#rejected.push({ path, product: tracked.product, error });
      return undefined;
    };
    if (entry === undefined) return fail("no target entry for this config");
    if (entry.sha256 === tracked.sha256) return undefined;
    tracked.version = entry.version;
    if (file === undefined) {
      // Not cached here and not sent: retried on the next poll (the hash is not recorded).
      return fail("target file missing from the response");
    }
    tracked.sha256 = entry.sha256;
    tracked.length = file.length;
    if (parsed === undefined) return fail("config path is not a Remote Configuration path");
    if (!this.#products.has(parsed.product)) {
      return fail(`product ${parsed.product} is not subscribed`);
    }
    if (sha256(file) !== entry.sha256) return fail("file hash does not match its target");
    let config: unknown;
    try {
      config = JSON.parse(file.toString("utf8"));
    } catch {
      return fail("config file is not valid JSON");
    }
    if (!isRecord(config)) return fail("config file is not a JSON object");
    tracked.applyState = APPLY_STATE.UNACKNOWLEDGED;
    tracked.applyError = undefined;
    return { kind: "apply", path, product: parsed.product, config };
  }

  #track(path: string, product: string, id: string): Tracked {
    let tracked = this.#tracked.get(path);
    if (tracked === undefined) {
      tracked = {
        path,
        product,
        id,
        version: 0,
        sha256: "",
        length: 0,
        applyState: APPLY_STATE.UNACKNOWLEDGED,
        applyError: undefined,
        applied: false,
      };
      this.#tracked.set(path, tracked);
    }
    return tracked;
  }

  /** Records how applying a change went; reported in the next request. */
  record(outcome: ApplyOutcome): void {
    const tracked = this.#tracked.get(outcome.path);
    if (tracked === undefined) return;
    if (outcome.ok) {
      tracked.applyState = APPLY_STATE.ACKNOWLEDGED;
      tracked.applyError = undefined;
      tracked.applied = true;
    } else {
      tracked.applyState = APPLY_STATE.ERROR;
      tracked.applyError = outcome.error;
    }
  }

  /** `client.state` for the next request. */
  requestState(): RequestState {
    const state: RequestState = {
      root_version: 1,
      targets_version: this.#targetsVersion,
      config_states: [...this.#tracked.values()].map((t) => ({
        id: t.id,
        version: t.version,
        product: t.product,
        apply_state: t.applyState,
        ...(t.applyError !== undefined ? { apply_error: t.applyError } : {}),
      })),
      has_error: this.#responseError !== undefined,
    };
    if (this.#responseError !== undefined) state.error = this.#responseError;
    if (this.#backendState !== undefined) state.backend_client_state = this.#backendState;
    return state;
  }

  /** Every file the client holds, so the Agent can leave them out of the next response. */
  cachedFiles(): CachedFile[] {
    const out: CachedFile[] = [];
    for (const t of this.#tracked.values()) {
      if (t.sha256 === "") continue;
      out.push({
        path: t.path,
        length: t.length,
        hashes: [{ algorithm: "sha256", hash: t.sha256 }],
      });
    }
    return out;
  }
}

export function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}
