/**
 * The Remote Configuration client: polls the Agent's `/v0.7/config`, hands the changes to `apply`
 * and reports how they went on the next poll. One per pod (the primary process, or the process
 * itself when it runs alone). The next poll is scheduled when the previous one has finished, so
 * polls never overlap; while the Agent is unreachable the delay doubles up to a ceiling, and the
 * outage is logged once when it starts and once when it ends.
 */
import type { Logger } from "../log.ts";
import { err } from "../result.ts";
import { type HttpPost, postJson } from "./http.ts";
import { encodeCapabilities, parseAgentResponse, type Subscription } from "./protocol.ts";
import { type ApplyOutcome, type ConfigChange, RemoteConfigState } from "./state.ts";

/** Who the client is, as reported in `client.client_tracer`. */
export interface ClientIdentity {
  readonly runtimeId: string;
  readonly service: string;
  readonly env: string | undefined;
  readonly appVersion: string | undefined;
  /** The dd-trace version the processor reports with. */
  readonly tracerVersion: string;
}

/** Called once per config applied or rejected, for metrics. */
export type ApplyHook = (product: string, result: "ok" | "error") => void;

/** Options of {@link startRemoteConfig}. */
export interface RemoteConfigOptions {
  /** `http://host:port` or `unix:///path` of the Agent. */
  readonly agentUrl: string;
  readonly pollIntervalMs: number;
  /** Longest delay between polls while the Agent fails. Default 8 intervals, at most 60 s. */
  readonly maxBackoffMs?: number;
  readonly subscription: Subscription;
  readonly identity: ClientIdentity;
  /** Applies changes (synchronously) and says how each went. */
  readonly apply: (changes: readonly ConfigChange[]) => ApplyOutcome[];
  readonly onApply?: ApplyHook | undefined;
  readonly log: Logger;
  /** The HTTP transport; tests replace it. */
  readonly post?: HttpPost;
}

/** A running client. */
export interface RemoteConfigClient {
  readonly state: RemoteConfigState;
  /** Stops polling; a poll in flight completes but schedules nothing. */
  stop(): void;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** Starts polling at once. */
export function startRemoteConfig(options: RemoteConfigOptions): RemoteConfigClient {
  const { log, subscription, identity } = options;
  const post = options.post ?? postJson;
  const url = configUrl(options.agentUrl);
  const interval = options.pollIntervalMs;
  const maxBackoff = options.maxBackoffMs ?? Math.max(interval, Math.min(60_000, interval * 8));
  const state = new RemoteConfigState(subscription.products);
  const capabilities = encodeCapabilities(subscription.capabilities);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let disabledAtAgent = false;
  let lastResponseError: string | undefined;

  const body = () => ({
    client: {
      state: state.requestState(),
      id: identity.runtimeId,
      products: subscription.products,
      is_tracer: true,
      client_tracer: {
        runtime_id: identity.runtimeId,
        language: "nodejs",
        tracer_version: identity.tracerVersion,
        service: identity.service,
        ...(identity.env !== undefined ? { env: identity.env } : {}),
        ...(identity.appVersion !== undefined ? { app_version: identity.appVersion } : {}),
        extra_services: [],
        tags: [],
      },
      capabilities,
    },
    cached_target_files: state.cachedFiles(),
  });

  const onUnreachable = (error: string): number => {
    failures += 1;
    const delay = Math.min(maxBackoff, interval * 2 ** failures);
    if (failures === 1) {
      log.warn("cannot poll the Agent for Remote Configuration; retrying with backoff", {
        error,
        retryInMs: delay,
      });
    } else {
      log.debug("Remote Configuration poll failed", { error, failures, retryInMs: delay });
    }
    return delay;
  };

  const onReachable = (): void => {
    if (failures > 0)
      log.info("Agent reachable again for Remote Configuration", { failedPolls: failures });
    failures = 0;
  };

  const handle = (text: string): void => {
    const parsed = parseAgentResponse(text);
    if (!parsed.ok) {
      // Logged once per distinct error: an Agent serving the same broken response every poll
      // must not flood the logs.
      const level = parsed.error === lastResponseError ? "debug" : "error";
      log[level]("unusable Remote Configuration response; reported to the Agent", {
        error: parsed.error,
      });
      lastResponseError = parsed.error;
      state.failResponse(parsed.error);
      return;
    }
    lastResponseError = undefined;
    const { changes, rejected } = state.ingest(parsed.value);
    for (const r of rejected) {
      log.warn("Remote Configuration config rejected", { product: r.product, error: r.error });
      options.onApply?.(r.product, "error");
    }
    if (changes.length === 0) return;
    const outcomes = applySafely(options.apply, changes, log);
    for (const [i, outcome] of outcomes.entries()) {
      state.record(outcome);
      const product = changes[i]?.product ?? "unknown";
      if (outcome.ok) {
        log.info("Remote Configuration config applied", {
          product,
          action: changes[i]?.kind ?? "apply",
        });
      } else {
        log.warn("Remote Configuration config failed to apply", { product, error: outcome.error });
      }
      options.onApply?.(product, outcome.ok ? "ok" : "error");
    }
  };

  const poll = async (): Promise<void> => {
    let delay = interval;
    try {
      const response = await post(url, JSON.stringify(body()), REQUEST_TIMEOUT_MS);
      if (response.status === 404) {
        onReachable();
        if (!disabledAtAgent) {
          log.info("Remote Configuration is disabled at the Agent (404); polling continues");
        }
        disabledAtAgent = true;
      } else if (response.status >= 200 && response.status < 300) {
        onReachable();
        if (disabledAtAgent) log.info("Remote Configuration enabled at the Agent");
        disabledAtAgent = false;
        handle(response.body);
      } else {
        delay = onUnreachable(`HTTP ${response.status}`);
      }
    } catch (error) {
      delay = onUnreachable(error instanceof Error ? error.message : String(error));
    }
    if (stopped) return;
    timer = setTimeout(() => void poll(), delay);
    timer.unref();
  };

  log.info("Remote Configuration polling the Agent", {
    products: [...subscription.products],
    capabilities,
    pollIntervalMs: interval,
  });
  void poll();
  return {
    state,
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

/** An apply function that throws is a bug; its changes are reported as errors, never lost. */
function applySafely(
  apply: RemoteConfigOptions["apply"],
  changes: readonly ConfigChange[],
  log: Logger,
): ApplyOutcome[] {
  try {
    const outcomes = apply(changes);
    return changes.map((c, i) => outcomes[i] ?? { path: c.path, ...err("no outcome reported") });
  } catch (error) {
    log.error("applying Remote Configuration threw", { error: String(error) });
    return changes.map((c) => ({ path: c.path, ...err("internal error while applying") }));
  }
}

function configUrl(agentUrl: string): string {
  return `${agentUrl.replace(/\/+$/, "")}/v0.7/config`;
}
