/** [time ms, cumulative count] samples, time ascending. */
export type Series = [number, number][];

/**
 * Freshness from two counters: for each produced sample (t, n), the time until Postgres had
 * committed n events. Samples never caught up are left out and counted in `unreached`.
 */
export function freshness(produced: Series, committed: Series): { delaysMs: number[]; unreached: number } {
  const delaysMs: number[] = [];
  let unreached = 0;
  let j = 0;
  for (const [t, n] of produced) {
    while (j < committed.length && (committed[j]![0] < t || committed[j]![1] < n)) j++;
    if (j === committed.length) unreached++;
    else delaysMs.push(committed[j]![0] - t);
  }
  return { delaysMs, unreached };
}

/** The p-th percentile (0..100) by nearest rank; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
