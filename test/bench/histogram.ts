/**
 * A latency histogram in microseconds: exact below 64 us, then 64 buckets per power of two (at most
 * 1.6% error), so recording is one array increment and histograms from several generator processes
 * merge by adding counts.
 */

const LINEAR = 64;
const BITS = 6;
const MAX_US = 2 ** 31 - 1;
const SIZE = LINEAR + (31 - BITS) * LINEAR;

function indexOf(us: number): number {
  const v = us >= MAX_US ? MAX_US : us > 0 ? Math.round(us) : 0;
  if (v < LINEAR) return v;
  const exponent = 31 - Math.clz32(v);
  return LINEAR + (exponent - BITS) * LINEAR + ((v >>> (exponent - BITS)) - LINEAR);
}

function bucketValue(index: number): number {
  if (index < LINEAR) return index;
  const exponent = BITS + Math.floor((index - LINEAR) / LINEAR);
  const width = 2 ** (exponent - BITS);
  return (LINEAR + ((index - LINEAR) % LINEAR)) * width + width / 2;
}

/** Sparse form for IPC and JSON: [bucket, count, bucket, count, ...]. */
export type HistogramData = number[];

/** Latencies recorded in microseconds. */
export class Histogram {
  readonly #counts = new Uint32Array(SIZE);
  #count = 0;
  #max = 0;

  /** Records one latency. */
  record(us: number): void {
    this.#counts[indexOf(us)]++;
    this.#count++;
    if (us > this.#max) this.#max = us;
  }

  get count(): number {
    return this.#count;
  }

  /** The largest recorded value, exact. */
  get maxUs(): number {
    return this.#max;
  }

  /** The value at quantile `q` (0..1) in microseconds; 0 when empty. */
  quantileUs(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.#counts[i] ?? 0;
      if (seen >= rank) return Math.min(bucketValue(i), this.#max);
    }
    return this.#max;
  }

  /** How many recorded values are at most `us` (to the bucket's precision). */
  countAtMost(us: number): number {
    const last = indexOf(us);
    let seen = 0;
    for (let i = 0; i <= last; i++) seen += this.#counts[i] ?? 0;
    return seen;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#max = 0;
  }

  /** Adds another histogram's counts (from `toData`). */
  merge(data: HistogramData, maxUs: number): void {
    for (let i = 0; i + 1 < data.length; i += 2) {
      const index = data[i] ?? 0;
      const count = data[i + 1] ?? 0;
      this.#counts[index] = (this.#counts[index] ?? 0) + count;
      this.#count += count;
    }
    if (maxUs > this.#max) this.#max = maxUs;
  }

  toData(): HistogramData {
    const data: number[] = [];
    this.#counts.forEach((count, index) => {
      if (count > 0) data.push(index, count);
    });
    return data;
  }
}
