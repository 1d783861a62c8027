/** Cumulative histogram buckets as scraped: [upper bound, count], bounds ascending, last +Inf. */
export type Buckets = [number, number][];

/**
 * Per-scrape increase of a histogram, summed over engines. A restarted engine starts from zero,
 * so a count lower than the last one is taken as a reset: its whole value is the increase.
 */
export function increase(previous: Buckets | undefined, current: Buckets): Buckets {
  if (previous === undefined || previous.length !== current.length) return current.map(([b, c]) => [b, c]);
  const reset = current.some(([, c], i) => c < previous[i]![1]);
  return current.map(([b, c], i) => [b, reset ? c : c - previous[i]![1]]);
}

export function add(a: Buckets | undefined, b: Buckets): Buckets {
  if (a === undefined || a.length !== b.length) return b.map(([x, c]) => [x, c]);
  return a.map(([x, c], i) => [x, c + b[i]![1]]);
}

/** The q-quantile (0..1) by linear interpolation inside the bucket, as Prometheus' histogram_quantile; NaN when empty. */
export function quantile(q: number, buckets: Buckets): number {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Infinity) return lowerBound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / Math.max(1e-12, count - lowerCount);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}
