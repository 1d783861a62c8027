/** One histogram bucket: how many observations were <= `le` (cumulative, as Prometheus exposes them). */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * The q-quantile (0..1) of a histogram's observations, estimated from cumulative bucket counts the way
 * Prometheus' histogram_quantile does: find the bucket holding the rank, interpolate linearly inside it
 * (the first bucket starts at 0). null when there are no observations. A rank in the +Inf bucket answers
 * the highest finite bound, since nothing better is known.
 */
export function bucketQuantile(q: number, buckets: readonly Bucket[]): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.length > 0 ? sorted[sorted.length - 1]!.count : 0;
  if (!(total > 0)) return null;
  const rank = Math.min(1, Math.max(0, q)) * total;
  let lower = 0;
  let below = 0;
  for (const b of sorted) {
    if (b.count >= rank && b.count > below) {
      if (!Number.isFinite(b.le)) return lower;
      return lower + (b.le - lower) * ((rank - below) / (b.count - below));
    }
    if (Number.isFinite(b.le)) lower = b.le;
    below = b.count;
  }
  return lower;
}

/** Bucket counts observed between two readings of the same histogram (`now` minus `before`, per bound). */
export function bucketDeltas(now: readonly Bucket[], before: readonly Bucket[]): Bucket[] {
  const old = new Map(before.map((b) => [b.le, b.count]));
  return now.map((b) => ({ le: b.le, count: Math.max(0, b.count - (old.get(b.le) ?? 0)) }));
}
