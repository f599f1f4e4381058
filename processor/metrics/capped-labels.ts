/**
 * Counts per label value with bounded cardinality: the first `cap` distinct values get their own
 * series, later ones (and values that are not plain identifiers) are counted as `other`, so a
 * ruleset replaced again and again, or an odd value, cannot grow the scrape without bound.
 */

/** Label values kept as they are; anything else is `other`. */
const PLAIN = /^[\w.:|-]{1,128}$/;

export class CappedLabels {
  readonly #counts = new Map<string, number>();
  readonly #cap: number;

  /** `preset` values are listed at zero from the start (so a scrape shows them before any event). */
  constructor(cap: number, preset: readonly string[] = []) {
    this.#cap = cap;
    for (const value of preset) this.#counts.set(value, 0);
  }

  /** Counts one event of `value`. */
  add(value: string): void {
    const count = this.#counts.get(value);
    if (count !== undefined) {
      this.#counts.set(value, count + 1);
      return;
    }
    const key = this.#counts.size < this.#cap && PLAIN.test(value) ? value : "other";
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  /** The counts, labelled by `labels(value)`. */
  *entries(
    labels: (value: string) => Record<string, string>,
  ): IterableIterator<[Record<string, string>, number]> {
    for (const [value, count] of this.#counts) yield [labels(value), count];
  }
}
