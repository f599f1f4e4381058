/**
 * Value parsers for environment variables. Each returns the value, or an error that completes the
 * sentence "expected ...".
 */
import { err, ok, type Result } from "../result.ts";

/** Result of parsing one variable; the error says what was expected ("expected <error>"). */
export type Parsed<T> = Result<T, string>;

/** Parses booleans the way Go's `strconv.ParseBool` does, so values valid for the Go image stay valid. */
export function parseBool(raw: string): Parsed<boolean> {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(raw)) return ok(true);
  if (["0", "f", "F", "FALSE", "false", "False"].includes(raw)) return ok(false);
  return err("a boolean (true/false, 1/0, t/f)");
}

/** Parses a decimal integer within `[min, max]`. */
export function parseInteger(raw: string, min: number, max: number): Parsed<number> {
  const expected = `an integer from ${min} to ${max}`;
  if (!/^[+-]?\d+$/.test(raw.trim())) return err(expected);
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value < min || value > max) return err(expected);
  return ok(value);
}

/** Parses a TCP port; 0 asks the OS for a free port (used by tests). */
export function parsePort(raw: string): Parsed<number> {
  return parseInteger(raw, 0, 65535);
}

const UNIT_US: Record<string, number> = {
  ns: 0.001,
  us: 1,
  µs: 1,
  μs: 1,
  ms: 1000,
  s: 1_000_000,
  m: 60_000_000,
  h: 3_600_000_000,
};

/**
 * Parses a Go duration (`10ms`, `1.5s`, `1m30s`) into microseconds. A bare number uses
 * `bareUnit` (`us` for DD_APPSEC_WAF_TIMEOUT, as dd-trace-go reads it; `s` for our own timeouts).
 */
export function parseDurationUs(raw: string, bareUnit: "us" | "s"): Parsed<number> {
  const expected = `a duration such as 10ms, 2s or 1m30s${bareUnit === "us" ? " (a bare number is microseconds)" : " (a bare number is seconds)"}`;
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    return ok((Number(text) * UNIT_US[bareUnit]) as number);
  }
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(text); match; match = part.exec(text)) {
    total += (Number(match[1]) * UNIT_US[match[2] as string]) as number;
    consumed = part.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length) return err(expected);
  return ok(total);
}

/** Accepts an IPv4 or IPv6 literal (Go requires an IP for the listen host). */
export function parseIp(raw: string): Parsed<string> {
  const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
  const ipv6 = /^[0-9a-fA-F:.]+$/;
  if (ipv4.test(raw) || (raw.includes(":") && ipv6.test(raw))) return ok(raw);
  return err("an IP address such as 0.0.0.0 or ::");
}

/** Accepts any non-empty string. */
export function parseText(raw: string): Parsed<string> {
  return raw.length > 0 ? ok(raw) : err("a non-empty value");
}

/** Accepts one of the given words. */
export function parseChoice<T extends string>(raw: string, choices: readonly T[]): Parsed<T> {
  const found = choices.find((choice) => choice === raw.trim().toLowerCase());
  return found ? ok(found) : err(`one of ${choices.join(", ")}`);
}

/** RE2 leading inline flags (`(?i)`, `(?is)`), which JavaScript writes after the pattern. */
const RE2_FLAGS = /^\(\?([imsU]+)\)/;
/** JavaScript constructs RE2 does not have: lookaround and backreferences. */
const NOT_RE2 = /\(\?<?[=!]|\\[1-9]/;

/**
 * Accepts an RE2 regular expression (libddwaf's syntax, as dd-trace's own defaults use it, e.g.
 * `(?i)pass|token`). There is no RE2 compiler in Node, so this is a close check: leading inline
 * flags and `(?P<name>` groups are translated, lookaround and backreferences are refused, and the
 * rest must compile as a JavaScript regular expression. A pattern that slips through and is invalid
 * for RE2 is not fatal: libddwaf then keeps its built-in default (checked in `waf/engine.test.ts`).
 */
export function parseRegExp(raw: string): Parsed<string> {
  const expected = "a valid RE2 regular expression (no lookaround or backreferences)";
  if (NOT_RE2.test(raw)) return err(expected);
  const flags = RE2_FLAGS.exec(raw)?.[1] ?? "";
  const pattern = raw.slice(flags === "" ? 0 : flags.length + 3).replaceAll("(?P<", "(?<");
  try {
    new RegExp(pattern, flags.replace("U", ""));
    return ok(raw);
  } catch {
    return err(expected);
  }
}
