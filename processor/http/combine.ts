/**
 * One WAF value from several readings of the same bytes. Maps are merged key by key, a key read
 * differently keeping every value (as a repeated key does), so a rule with a key path still finds
 * its key: libddwaf does not follow a key path into an array. Readings that are not maps (text,
 * arrays) go under the empty key of the merged map; with no map at all, the readings stay a list.
 */
import { isDeepStrictEqual } from "node:util";
import {
  addRepeated,
  BODY_VALUE_LIMITS,
  createRepeatedMap,
  type Notes,
  type RepeatedMap,
} from "./limits.ts";

/** Combines readings into one value; one reading is returned as it is. */
export function combineReadings(readings: unknown[], notes: Notes): unknown {
  if (readings.length === 1) return readings[0];
  if (!readings.some(isMap)) return readings;
  const map = createRepeatedMap();
  for (const reading of readings) {
    if (isMap(reading)) {
      for (const key in reading) add(map, key, reading[key], notes);
    } else add(map, "", reading, notes);
  }
  return map.out;
}

function add(map: RepeatedMap, key: string, value: unknown, notes: Notes): void {
  if (Object.hasOwn(map.out, key) && sameAsKept(map, key, value)) return;
  if (!Object.hasOwn(map.out, key) && map.keys === BODY_VALUE_LIMITS.maxContainerSize) {
    notes.add("container-truncated");
    return;
  }
  addRepeated(map, key, value, notes);
}

/** The key already holds this value (two readings that agree on it). */
function sameAsKept(map: RepeatedMap, key: string, value: unknown): boolean {
  const kept = map.out[key];
  if (!map.repeated.has(key)) return isDeepStrictEqual(kept, value);
  return (kept as unknown[]).some((item) => isDeepStrictEqual(item, value));
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
