import { describe, expect, it } from 'vitest';
import { histogramBuckets, metricSum } from '../../chaos/netns/exposition.js';
import { freshness, percentile } from '../../chaos/netns/freshness.js';

describe('freshness from produced and committed counters', () => {
  it('is the time until Postgres had committed what was produced by then', () => {
    const produced: [number, number][] = [
      [0, 0],
      [1000, 100],
      [2000, 200],
      [3000, 300],
    ];
    const committed: [number, number][] = [
      [500, 0],
      [1500, 100],
      [2100, 150],
      [2600, 250],
      [4000, 300],
    ];
    const f = freshness(produced, committed);
    expect(f.delaysMs).toEqual([500, 500, 600, 1000]);
    expect(f.unreached).toBe(0);
  });

  it('counts samples never caught up apart', () => {
    expect(
      freshness(
        [
          [0, 10],
          [1000, 20],
        ],
        [[100, 10]],
      ),
    ).toEqual({ delaysMs: [100], unreached: 1 });
  });

  it('takes percentiles by nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('exposition text', () => {
  const text = [
    '# TYPE loyalty_assigned_partitions gauge',
    'loyalty_assigned_partitions 3',
    'loyalty_actor_queue_depth{partition="1"} 10',
    'loyalty_actor_queue_depth{partition="2"} 5',
    'loyalty_flush_duration_seconds_bucket{le="0.1"} 4',
    'loyalty_flush_duration_seconds_bucket{le="1"} 9',
    'loyalty_flush_duration_seconds_bucket{le="+Inf"} 10',
    'loyalty_flush_duration_seconds_count 10',
  ].join('\n');

  it('sums a metric over its label sets', () => {
    expect(metricSum(text, 'loyalty_actor_queue_depth')).toBe(15);
    expect(metricSum(text, 'loyalty_assigned_partitions')).toBe(3);
    expect(metricSum(text, 'loyalty_missing')).toBe(0);
  });

  it('reads a histogram as cumulative buckets', () => {
    expect(histogramBuckets(text, 'loyalty_flush_duration_seconds')).toEqual([
      [0.1, 4],
      [1, 9],
      [Infinity, 10],
    ]);
  });
});
