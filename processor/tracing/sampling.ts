/**
 * Sampling state shared by every span of a tracer: the ASM keep rate limit
 * (`DD_APPSEC_TRACE_RATE_LIMIT`) and the API Security schema sampler
 * (`DD_API_SECURITY_SAMPLE_DELAY`). Clocks are injectable for tests.
 */

/** A clock in milliseconds. */
export type Clock = () => number;

/** Allows at most a number of calls per window (0 allows none). */
export interface RateLimiter {
  allow(): boolean;
}

/** A fixed-window limiter, as dd-trace's `RateLimiter(n, 'second')` (a window of `windowMs`). */
export function createRateLimiter(
  perWindow: number,
  now: Clock = Date.now,
  windowMs = 1000,
): RateLimiter {
  let windowStart = Number.NEGATIVE_INFINITY;
  let used = 0;
  return {
    allow() {
      const t = now();
      if (t - windowStart >= windowMs) {
        windowStart = t;
        used = 0;
      }
      if (used >= perWindow) return false;
      used += 1;
      return true;
    },
  };
}

/** dd-trace's API Security cache size (`api_security/sampler.js` `MAX_SIZE`). */
export const SCHEMA_SAMPLER_MAX_KEYS = 4096;

/**
 * One schema per key (method, endpoint, status) every `delayS` seconds, as dd-trace-js's API
 * Security sampler (a TTL cache of at most 4096 keys, oldest evicted first). A delay of 0 samples
 * every request.
 */
export interface SchemaSampler {
  sample(key: string): boolean;
}

export function createSchemaSampler(
  delayS: number,
  now: Clock = Date.now,
  maxKeys = SCHEMA_SAMPLER_MAX_KEYS,
): SchemaSampler {
  const expiries = new Map<string, number>();
  const ttlMs = delayS * 1000;
  return {
    sample(key) {
      if (ttlMs <= 0) return true;
      const t = now();
      const expiry = expiries.get(key);
      if (expiry !== undefined && expiry > t) return false;
      expiries.delete(key);
      expiries.set(key, t + ttlMs);
      if (expiries.size > maxKeys) {
        const oldest = expiries.keys().next().value;
        if (oldest !== undefined) expiries.delete(oldest);
      }
      return true;
    },
  };
}
