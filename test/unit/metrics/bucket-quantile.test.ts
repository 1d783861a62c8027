import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketDeltas, bucketQuantile, type Bucket } from '../../../src/metrics/bucket-quantile.js';

const cumulative = (bounds: number[], counts: number[]): Bucket[] => {
  let n = 0;
  return bounds.map((le, i) => ({ le, count: (n += counts[i] ?? 0) }));
};

describe('bucketQuantile', () => {
  it('interpolates inside the bucket holding the rank, as histogram_quantile does', () => {
    // 10 observations in (0, 0.01], 10 in (0.01, 0.02]: the median is the top of the first bucket.
    const b = cumulative([0.01, 0.02, Infinity], [10, 10, 0]);
    expect(bucketQuantile(0.5, b)).toBeCloseTo(0.01, 12);
    expect(bucketQuantile(0.25, b)).toBeCloseTo(0.005, 12);
    expect(bucketQuantile(0.75, b)).toBeCloseTo(0.015, 12);
    expect(bucketQuantile(0.99, b)).toBeCloseTo(0.0198, 12);
  });

  it('skips empty buckets and answers the highest finite bound for ranks in +Inf', () => {
    const b = cumulative([0.001, 0.01, 0.1, Infinity], [0, 4, 0, 1]);
    expect(bucketQuantile(0.5, b)).toBeCloseTo(0.001 + 0.009 * (2.5 / 4), 12);
    expect(bucketQuantile(0.99, b)).toBe(0.1);
  });

  it('is null without observations, and the buckets may come in any order', () => {
    expect(bucketQuantile(0.5, cumulative([1, Infinity], [0, 0]))).toBeNull();
    expect(bucketQuantile(0.5, [])).toBeNull();
    expect(
      bucketQuantile(0.5, [
        { le: Infinity, count: 4 },
        { le: 2, count: 4 },
        { le: 1, count: 0 },
      ]),
    ).toBeCloseTo(1.5, 12);
  });

  it('stays within the bucket bounds and grows with q (property)', () => {
    const bounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, Infinity];
    fc.assert(
      fc.property(
        fc.array(fc.nat(50), { minLength: bounds.length, maxLength: bounds.length }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (counts, q1, q2) => {
          const b = cumulative(bounds, counts);
          const a = bucketQuantile(Math.min(q1, q2), b);
          const z = bucketQuantile(Math.max(q1, q2), b);
          if (counts.every((c) => c === 0)) return a === null && z === null;
          return a !== null && z !== null && a >= 0 && z <= 1 && a <= z + 1e-12;
        },
      ),
    );
  });
});

describe('bucketDeltas', () => {
  it('subtracts an earlier reading bound by bound', () => {
    const before = cumulative([0.01, 0.1, Infinity], [5, 1, 0]);
    const now = cumulative([0.01, 0.1, Infinity], [5, 4, 2]);
    expect(bucketDeltas(now, before)).toEqual([
      { le: 0.01, count: 0 },
      { le: 0.1, count: 3 },
      { le: Infinity, count: 5 },
    ]);
  });
});
