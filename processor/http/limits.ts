/**
 * Bounds applied when a parsed body becomes the value handed to the WAF, plus the helpers that
 * build plain objects safely from attacker-chosen keys.
 */

/**
 * Size limits of a parsed body value. They mirror libddwaf's defaults (max container depth 20,
 * 256 items per container, 4096-character strings): anything past them would be ignored by the WAF,
 * so cutting it here only saves memory and native conversion time.
 */
export const BODY_VALUE_LIMITS = Object.freeze({
  maxDepth: 20,
  maxContainerSize: 256,
  maxStringLength: 4096,
});

/** Notes recorded while parsing (a Set keeps them unique and in first-seen order). */
export type Notes = Set<string>;

/**
 * Sets an own enumerable property. Plain assignment would turn a `__proto__` key into a prototype
 * change, so that one key goes through defineProperty.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

/** Appends to the list under `key`, creating it; own-property checks ignore `constructor` & co. */
export function appendOwn<T>(target: Record<string, T[]>, key: string, value: T): void {
  const list = Object.hasOwn(target, key) ? target[key] : undefined;
  if (list) list.push(value);
  else setOwn(target, key, [value]);
}

/** A map that keeps every value of a repeated key, for {@link addRepeated}. */
export interface RepeatedMap {
  readonly out: Record<string, unknown>;
  /** Keys whose value is an array {@link addRepeated} made (not an array value). */
  readonly repeated: Set<string>;
  /** Distinct keys. */
  keys: number;
}

/** An empty {@link RepeatedMap}. */
export function createRepeatedMap(): RepeatedMap {
  return { out: {}, repeated: new Set(), keys: 0 };
}

/**
 * Sets `key`, or when it is set already, keeps every value in an array under it (at most
 * `maxContainerSize` values; later ones are dropped with a note). Returns false for a repeat.
 */
export function addRepeated(map: RepeatedMap, key: string, value: unknown, notes: Notes): boolean {
  const { out, repeated } = map;
  if (!Object.hasOwn(out, key)) {
    map.keys++;
    setOwn(out, key, value);
    return true;
  }
  if (!repeated.has(key)) {
    repeated.add(key);
    setOwn(out, key, [out[key], value]);
    return false;
  }
  const list = out[key] as unknown[];
  if (list.length < BODY_VALUE_LIMITS.maxContainerSize) list.push(value);
  else notes.add("container-truncated");
  return false;
}

/** Cuts a string to the WAF string limit, noting the cut. */
export function capString(value: string, notes: Notes): string {
  if (value.length <= BODY_VALUE_LIMITS.maxStringLength) return value;
  notes.add("string-truncated");
  return value.slice(0, BODY_VALUE_LIMITS.maxStringLength);
}

/** What {@link capValue} visited: object keys, and whether it visited everything. */
export interface CapStats {
  keys: number;
  /** False once something was cut (too deep, too many entries): `keys` then counts only part. */
  complete: boolean;
}

/**
 * Copies a JSON-like value within {@link BODY_VALUE_LIMITS}. Recursion is bounded by `maxDepth`,
 * and only the first `maxContainerSize` entries of a container are visited, so a million-element
 * array costs 256 steps. Containers nested too deep are dropped; non-finite numbers (JSON `1e400`)
 * become strings because the WAF cannot encode them as numbers. `stats`, when given, counts the
 * keys visited (json.ts uses it to tell whether `JSON.parse` dropped a repeated key).
 */
export function capValue(value: unknown, notes: Notes, depth = 1, stats?: CapStats): unknown {
  if (typeof value === "string") return capString(value, notes);
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > BODY_VALUE_LIMITS.maxDepth) {
    notes.add("depth-truncated");
    if (stats) stats.complete = false;
    return undefined;
  }
  return Array.isArray(value)
    ? capArray(value, notes, depth, stats)
    : capObject(value, notes, depth, stats);
}

function capArray(value: unknown[], notes: Notes, depth: number, stats?: CapStats): unknown[] {
  const max = BODY_VALUE_LIMITS.maxContainerSize;
  if (value.length > max) {
    notes.add("container-truncated");
    if (stats) stats.complete = false;
  }
  const out: unknown[] = [];
  for (let i = 0; i < Math.min(value.length, max); i++) {
    const item = capValue(value[i], notes, depth + 1, stats);
    if (item !== undefined) out.push(item);
  }
  return out;
}

function capObject(
  value: object,
  notes: Notes,
  depth: number,
  stats?: CapStats,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let count = 0;
  // for...in stops early; Object.keys would allocate every key of a huge object first.
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (count === BODY_VALUE_LIMITS.maxContainerSize) {
      notes.add("container-truncated");
      if (stats) stats.complete = false;
      break;
    }
    count++;
    const item = capValue((value as Record<string, unknown>)[key], notes, depth + 1, stats);
    if (item !== undefined) setOwn(out, key, item);
  }
  if (stats) stats.keys += count;
  return out;
}
