/**
 * The Remote Configuration client of a processor, from its configuration.
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import type { Logger } from "../log.ts";
import { PROCESSOR_VERSION } from "../version.ts";
import type { WafEngine } from "../waf/index.ts";
import { type ApplyHook, type RemoteConfigClient, startRemoteConfig } from "./client.ts";
import { subscriptionFor } from "./protocol.ts";
import type { ApplyOutcome, ConfigChange } from "./state.ts";
import { createWafApplier, type WafApplier } from "./waf-apply.ts";

/** What Remote Configuration reads of the configuration (built by `wiring.ts`). */
export interface RemoteConfigOptions {
  /** `DD_REMOTE_CONFIGURATION_ENABLED`. */
  readonly enabled: boolean;
  /** The Agent's base URL; polls go to `<agentUrl>/v0.7/config`. */
  readonly agentUrl: string;
  readonly pollIntervalMs: number;
  /** Blocking capabilities are advertised (not in observability mode). */
  readonly blocking: boolean;
  /** `DD_APPSEC_RULES` pins the ruleset: ASM_DD is not requested. */
  readonly rulesPinned: boolean;
  readonly service: string;
  readonly env: string | undefined;
  /** `DD_VERSION`, else the processor's own version. */
  readonly version: string | undefined;
}

/** Options of {@link remoteConfigFor}. */
export interface RemoteConfigSetup {
  readonly options: RemoteConfigOptions;
  readonly engine: WafEngine;
  readonly log: Logger;
  /** Called after each batch was applied here (the primary copies it to its workers). */
  readonly afterApply?: (applier: WafApplier) => void;
  readonly onApply?: ApplyHook | undefined;
}

/**
 * Starts polling when Remote Configuration is on (and AppSec is, which the caller checked by
 * having an engine). Returns the client and the applier, or undefined when it is off.
 */
export function remoteConfigFor(
  setup: RemoteConfigSetup,
): { client: RemoteConfigClient; applier: WafApplier } | undefined {
  const { options, engine, log } = setup;
  if (!options.enabled) {
    log.info("Remote Configuration is off (DD_REMOTE_CONFIGURATION_ENABLED=false)");
    return undefined;
  }
  const applier = createWafApplier(engine);
  const apply = (changes: readonly ConfigChange[]): ApplyOutcome[] => {
    const outcomes = applier.apply(changes);
    setup.afterApply?.(applier);
    return outcomes;
  };
  const client = startRemoteConfig({
    agentUrl: options.agentUrl,
    pollIntervalMs: options.pollIntervalMs,
    subscription: subscriptionFor({ blocking: options.blocking, rulesPinned: options.rulesPinned }),
    identity: {
      runtimeId: randomUUID(),
      service: options.service,
      env: options.env,
      appVersion: options.version ?? PROCESSOR_VERSION,
      tracerVersion: ddTraceVersion(),
    },
    apply,
    onApply: setup.onApply,
    log,
  });
  return { client, applier };
}

function ddTraceVersion(): string {
  try {
    const manifest = createRequire(import.meta.url)("dd-trace/package.json") as {
      version?: string;
    };
    return manifest.version ?? "unknown";
  } catch {
    return "unknown";
  }
}
