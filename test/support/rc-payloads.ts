/**
 * Remote Configuration payloads as the Datadog backend sends them, for tests and benchmarks:
 * rule data (blocked IPs and users), rule overrides, custom rules, actions, exclusions, rulesets.
 */

/** A monitoring rule of the recommended ruleset (scanner user agent `Arachni/v...`). */
export const MONITORING_RULE = "ua0-600-12x";
/** A user agent that triggers {@link MONITORING_RULE}. */
export const MONITORED_USER_AGENT = "Arachni/v1.5";

/** `count` distinct IPv4 addresses in 10.0.0.0/8, expiring never (0). */
export function manyIps(count: number): Array<{ value: string; expiration: number }> {
  return Array.from({ length: count }, (_, i) => ({
    value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    expiration: 0,
  }));
}

/** ASM_DATA: blocked IPs (the recommended rule `blk-001-001` reads them). */
export function blockedIps(entries: ReadonlyArray<{ value: string; expiration: number }>): object {
  return { rules_data: [{ id: "blocked_ips", type: "ip_with_expiration", data: entries }] };
}

/** ASM_DATA: blocked user ids. */
export function blockedUsers(
  entries: ReadonlyArray<{ value: string; expiration: number }>,
): object {
  return { rules_data: [{ id: "blocked_users", type: "data_with_expiration", data: entries }] };
}

/**
 * ASM: a custom rule that reads a user id from the `x-user-id` request header and blocks the ids
 * of the `blocked_users` data (a proxy has no authenticated user, so a rule must say where the id
 * is).
 */
export const USER_ID_RULE = {
  custom_rules: [
    {
      id: "custom-user-header",
      name: "Blocked user id in x-user-id",
      tags: { type: "block_user", category: "security_response" },
      conditions: [
        {
          operator: "exact_match",
          parameters: {
            inputs: [{ address: "server.request.headers.no_cookies", key_path: ["x-user-id"] }],
            data: "blocked_users",
          },
        },
      ],
      on_match: ["block"],
    },
  ],
};

/** ASM: turns `ruleId` into a blocking rule. */
export function blockingOverride(ruleId: string): object {
  return { rules_override: [{ rules_target: [{ rule_id: ruleId }], on_match: ["block"] }] };
}

/** ASM: a custom rule blocking requests whose path starts with `prefix`. */
export function customPathRule(id: string, prefix: string): object {
  return {
    custom_rules: [
      {
        id,
        name: `custom path ${prefix}`,
        tags: { type: "custom", category: "attack_attempt" },
        conditions: [
          {
            operator: "match_regex",
            parameters: {
              inputs: [{ address: "server.request.uri.raw" }],
              regex: `^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`,
            },
          },
        ],
        on_match: ["block"],
      },
    ],
  };
}

/** ASM: the default `block` action answers 401. */
export const BLOCK_401 = {
  actions: [{ id: "block", type: "block_request", parameters: { status_code: 401, type: "auto" } }],
};

/** ASM: the default `block` action redirects to `location` (302). */
export function blockRedirect(location: string): object {
  return {
    actions: [
      { id: "block", type: "redirect_request", parameters: { status_code: 302, location } },
    ],
  };
}

/** ASM: `ruleId` does not fire on paths starting with `prefix`. */
export function exclusion(ruleId: string, prefix: string): object {
  return {
    exclusions: [
      {
        id: `exclude-${ruleId}`,
        rules_target: [{ rule_id: ruleId }],
        conditions: [
          {
            operator: "match_regex",
            parameters: { inputs: [{ address: "server.request.uri.raw" }], regex: `^${prefix}` },
          },
        ],
      },
    ],
  };
}

/** ASM_DD: a one-rule ruleset with version `version` that blocks paths containing `marker`. */
export function smallRuleset(version: string, marker: string): object {
  return {
    version: "2.2",
    metadata: { rules_version: version },
    rules: [
      {
        id: "rc-ruleset-rule",
        name: "RC ruleset rule",
        tags: { type: "rc_test", category: "attack_attempt" },
        conditions: [
          {
            operator: "phrase_match",
            parameters: { inputs: [{ address: "server.request.uri.raw" }], list: [marker] },
          },
        ],
        on_match: ["block"],
      },
    ],
  };
}
