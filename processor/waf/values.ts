/**
 * The shape of multi-valued maps (headers, query, cookies) as fed to libddwaf. The request model
 * keeps every value in a list; the WAF gets a single value as a plain string and only repeated
 * names as lists. libddwaf matches the same strings either way (its operators walk into lists),
 * but every list is one more object to marshal through N-API and to walk in libddwaf: with a
 * dozen headers this is a tenth of a run's cost. dd-trace-js feeds Node's own header objects,
 * which have the same shape.
 */

/** A multi-valued map with single values unwrapped; the input is not modified. */
export function compactValues(
  values: Readonly<Record<string, readonly string[]>>,
): Record<string, string | readonly string[]> {
  const compact: Record<string, string | readonly string[]> = {};
  for (const name in values) {
    const list = values[name];
    if (list === undefined) continue;
    compact[name] = list.length === 1 ? (list[0] as string) : list;
  }
  return compact;
}
