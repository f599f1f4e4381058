/** Reading a Prometheus text exposition in tests. */

/**
 * The value of the sample `name{labels}` (exactly these labels) in `text`, or undefined when the
 * exposition has no such sample.
 */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = match[2] ? match[2].split(",") : [];
    if (wanted.length === present.length && wanted.every((pair) => present.includes(pair)))
      return Number(match[3]);
  }
  return undefined;
}
