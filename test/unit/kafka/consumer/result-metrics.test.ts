import { describe, expect, it } from 'vitest';
import { recordResult } from '../../../../src/kafka/consumer/result-metrics.js';
import { createMetrics } from '../../../../src/metrics/registry.js';
import { actorResult } from './fake-kafka.js';

describe('recordResult: the lifecycle metrics', () => {
  it('counts expired and released points, and keeps open lots and clock lag per partition', async () => {
    const m = createMetrics();
    const clock = Date.now() - 90_000;
    recordResult(
      m,
      actorResult({ lifecycle: { clock, openLots: 12, expiredPoints: 30, releasedPoints: 7, expiryBacklog: false } }),
      3,
    );
    recordResult(
      m,
      actorResult({
        lifecycle: { clock: null, openLots: 0, expiredPoints: 5, releasedPoints: 0, expiryBacklog: false },
      }),
    ); // a closing partition
    const text = await m.registry.metrics();
    expect(text).toMatch(/^loyalty_points_expired_total 35$/m);
    expect(text).toMatch(/^loyalty_points_released_total 7$/m);
    expect(text).toMatch(/^loyalty_open_lots\{partition="3"\} 12$/m);
    const lag = /^loyalty_partition_clock_lag_seconds\{partition="3"\} ([0-9.]+)$/m.exec(text);
    expect(Number(lag?.[1])).toBeGreaterThanOrEqual(90);
    expect(Number(lag?.[1])).toBeLessThan(100);
  });

  it('exposes none of them without a lifecycle block', async () => {
    const m = createMetrics();
    recordResult(m, actorResult(), 1);
    const text = await m.registry.metrics();
    expect(text).toMatch(/^loyalty_points_expired_total 0$/m);
    expect(text).not.toMatch(/loyalty_open_lots\{/);
    expect(text).not.toMatch(/loyalty_partition_clock_lag_seconds\{/);
  });
});

describe('recordResult: the recent-ids metrics', () => {
  it("counts summaries given up by reason, and keeps each owned partition's busy bytes", async () => {
    const m = createMetrics();
    recordResult(m, actorResult({ recentIds: { busyBytes: 5_000, givenUp: { memory_budget: 2 } } }), 4);
    recordResult(m, actorResult({ recentIds: { busyBytes: 7_000, givenUp: { memory_budget: 1, user_limit: 1 } } }), 4);
    recordResult(m, actorResult({ recentIds: { busyBytes: 9_000, givenUp: {} } })); // a closing partition
    const text = await m.registry.metrics();
    expect(text).toMatch(/^loyalty_recent_ids_given_up_total\{reason="memory_budget"\} 3$/m);
    expect(text).toMatch(/^loyalty_recent_ids_given_up_total\{reason="user_limit"\} 1$/m);
    // Present from the start, so that a first burst shows in increase().
    expect(text).toMatch(/^loyalty_recent_ids_given_up_total\{reason="window_too_long"\} 0$/m);
    expect(text).toMatch(/^loyalty_recent_ids_busy_bytes\{partition="4"\} 7000$/m);
    expect(text).not.toMatch(/loyalty_recent_ids_busy_bytes\{partition="undefined"/);
  });
});
