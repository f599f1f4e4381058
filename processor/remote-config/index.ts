/**
 * Remote Configuration: a client of the Agent's `/v0.7/config` that keeps the WAF current (rules,
 * blocked IPs and users, exclusions, custom rules and block responses) without a restart. The
 * protocol (`protocol.ts`, `state.ts`) is neutral; `client.ts` polls; `waf-apply.ts` applies to
 * the WAF and copies the result to worker processes; `setup.ts` builds it from the config.
 */

export type { ApplyHook } from "./client.ts";
export { encodeCapabilities, subscriptionFor } from "./protocol.ts";
export type { RemoteConfigOptions } from "./setup.ts";
export { remoteConfigFor } from "./setup.ts";
export type { WafConfigSnapshot } from "./waf-apply.ts";
export { createWafReplica } from "./waf-apply.ts";
