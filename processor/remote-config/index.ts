/**
 * Remote Configuration: a client of the Agent's `/v0.7/config` that keeps the WAF current (rules,
 * blocked IPs and users, exclusions, custom rules and block responses) without a restart. The
 * protocol (`protocol.ts`, `state.ts`) is neutral; `client.ts` polls; `waf-apply.ts` applies to
 * the WAF and copies the result to worker processes.
 */

export type {
  ApplyHook,
  ClientIdentity,
  RemoteConfigClient,
  RemoteConfigOptions,
} from "./client.ts";
export { startRemoteConfig } from "./client.ts";
export type { HttpPost, HttpResponse } from "./http.ts";
export type { Product, Subscription } from "./protocol.ts";
export {
  APPLY_STATE,
  CAPABILITY,
  encodeCapabilities,
  PRODUCTS,
  parseConfigPath,
  subscriptionFor,
} from "./protocol.ts";
export { remoteConfigFor } from "./setup.ts";
export type { ApplyOutcome, ConfigChange } from "./state.ts";
export { RemoteConfigState } from "./state.ts";
export type { AcceptedConfig, WafApplier, WafConfigSnapshot, WafReplica } from "./waf-apply.ts";
export { createWafApplier, createWafReplica } from "./waf-apply.ts";
