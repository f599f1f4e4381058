/**
 * Default obfuscator regexes: values of matching keys, and matching values, are replaced by
 * `<Redacted>` in the events libddwaf reports (and so in `_dd.appsec.json`).
 *
 * Copied from dd-trace 6.21.0, `packages/dd-trace/src/config/supported-configurations.json`
 * (entries `DD_APPSEC_OBFUSCATION_PARAMETER_KEY_REGEXP` / `_VALUE_REGEXP`, field `default`), so
 * that events look the same as from a Node service instrumented by dd-trace. `obfuscation.test.ts`
 * fails when the installed dd-trace disagrees. The syntax is RE2 (libddwaf), not JavaScript.
 */

/** Default of `DD_APPSEC_OBFUSCATION_PARAMETER_KEY_REGEXP`. */
export const DEFAULT_OBFUSCATOR_KEY_REGEX =
  "(?i)pass|pw(?:or)?d|secret|(?:api|private|public|access)[_-]?key|token|consumer[_-]?(?:id|key|secret)|sign(?:ed|ature)|bearer|authorization|jsessionid|phpsessid|asp\\.net[_-]sessionid|sid|jwt";

/** Default of `DD_APPSEC_OBFUSCATION_PARAMETER_VALUE_REGEXP`. */
export const DEFAULT_OBFUSCATOR_VALUE_REGEX =
  '(?i)(?:p(?:ass)?w(?:or)?d|pass(?:[_-]?phrase)?|secret(?:[_-]?key)?|(?:(?:api|private|public|access)[_-]?)key(?:[_-]?id)?|(?:(?:auth|access|id|refresh)[_-]?)?token|consumer[_-]?(?:id|key|secret)|sign(?:ed|ature)?|auth(?:entication|orization)?|jsessionid|phpsessid|asp\\.net(?:[_-]|-)sessionid|sid|jwt)(?:\\s*=([^;&]+)|"\\s*:\\s*("[^"]+"|\\d+))|bearer\\s+([a-z0-9\\._\\-]+)|token\\s*:\\s*([a-z0-9]{13})|gh[opsu]_([0-9a-zA-Z]{36})|ey[I-L][\\w=-]+\\.(ey[I-L][\\w=-]+(?:\\.[\\w.+\\/=-]+)?)|[\\-]{5}BEGIN[a-z\\s]+PRIVATE\\sKEY[\\-]{5}([^\\-]+)[\\-]{5}END[a-z\\s]+PRIVATE\\sKEY|ssh-rsa\\s*([a-z0-9\\/\\.+]{100,})';
