/**
 * The Remote Configuration client of a processor, from its configuration.
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import type { Config } from "../config/index.ts";
import type { Logger } from "../log.ts";
import { agentUrl } from "../tracing/index.ts";
import { PROCESSOR_VERSION } from "../version.ts";
import type { WafEngine } from "../waf/index.ts";
import { type ApplyHook, type RemoteConfigClient, startRemoteConfig } from "./client.ts";
import { subscriptionFor } from "./protocol.ts";
import type { ApplyOutcome, ConfigChange } from "./state.ts";
import { createWafApplier, type WafApplier } from "./waf-apply.ts";

/** Options of {@link remoteConfigFor}. */
export interface RemoteConfigSetup {
  readonly config: Config;
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
  const { config, engine, log } = setup;
  if (!config.remoteConfigEnabled) {
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
    agentUrl: agentUrl(config),
    pollIntervalMs: config.remoteConfigPollIntervalMs,
    subscription: subscriptionFor({
      blocking: !config.observabilityMode,
      rulesPinned: config.rulesPath !== undefined,
    }),
    identity: {
      runtimeId: randomUUID(),
      service: config.service,
      env: config.env,
      appVersion: config.version ?? PROCESSOR_VERSION,
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
