import { describe, expect, it } from 'vitest';
import type { EngineReading } from '../../../src/metrics/engine-reading.js';
import { HISTORY_SECONDS, StatsHistory } from '../../../src/http/stats.js';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const BOUNDS = [0.01, 0.1, Infinity];

/** A reading `s` seconds after T0 with `applied` applied events, `flushes` cumulative counts per bound. */
function reading(
  s: number,
  applied: number,
  flushes: number[] = [0, 0, 0],
  lag: Record<string, number> = {},
): EngineReading {
  return {
    atMs: T0 + s * 1000,
    eventsByOutcome: { applied, rejected: 1 },
    lagByPartition: lag,
    flushBuckets: BOUNDS.map((le, i) => ({ le, count: flushes[i]! })),
    deadLettersByReason: { malformed_json: 2 },
    rulesVersion: 'abc123',
  };
}
const noDeadLetters = { latest: [], asOfMs: null, error: null };

describe('StatsHistory', () => {
  it('the first reading gives totals and no rate yet; flush quantiles since start', () => {
    const h = new StatsHistory();
    h.add(reading(0, 100, [4, 4, 4]));
    const s = h.snapshot([0, 1], noDeadLetters);
    expect(s.events).toEqual({
      total: 101,
      applied: 100,
      by_outcome: { applied: 100, rejected: 1 },
      per_second: null,
      applied_per_second: null,
    });
    expect(s.flush).toMatchObject({ window_seconds: null, flushes: 4, p50_ms: 5 });
    expect(s.partitions).toEqual([0, 1]);
    expect(s.rules_version).toBe('abc123');
    expect(s.dead_letters.by_reason).toEqual({ malformed_json: 2 });
    expect(s.history.t).toEqual([]);
  });

  it('rates come from the last two kept readings; readings closer than the interval add no point', () => {
    const h = new StatsHistory();
    expect(h.add(reading(0, 0))).toBe(true);
    expect(h.add(reading(0.5, 400))).toBe(false); // a second page polling in between
    expect(h.add(reading(1, 1000, [0, 0, 0], { '0': 7, '1': 3 }))).toBe(true);
    expect(h.add(reading(3, 2000, [0, 0, 0], { '0': 1 }))).toBe(true);
    const s = h.snapshot([0, 1], noDeadLetters);
    expect(s.events.applied_per_second).toBe(500); // 1000 events over 2 s
    expect(s.events.per_second).toBe(500);
    expect(s.lag).toEqual({ total: 1, by_partition: { '0': 1 } });
    expect(s.history.applied_per_second).toEqual([1000, 500]);
    expect(s.history.lag).toEqual([10, 1]);
    expect(s.history.t).toEqual([(T0 + 1000) / 1000, (T0 + 3000) / 1000]);
  });

  it('flush latency covers only the flushes of the last 30 s', () => {
    const h = new StatsHistory();
    h.add(reading(0, 0, [0, 0, 0]));
    h.add(reading(10, 0, [100, 100, 100])); // 100 fast flushes, long ago by the end
    h.add(reading(45, 0, [100, 110, 110])); // then 10 slow ones
    const s = h.snapshot([], noDeadLetters);
    expect(s.flush.window_seconds).toBe(35);
    expect(s.flush.flushes).toBe(10);
    expect(s.flush.p50_ms).toBeCloseTo(55, 6); // halfway through (10 ms, 100 ms]
  });

  it('keeps about HISTORY_SECONDS of readings', () => {
    const h = new StatsHistory();
    for (let s = 0; s <= 3 * HISTORY_SECONDS; s++) h.add(reading(s, s * 10));
    expect(h.size).toBeLessThanOrEqual(HISTORY_SECONDS + 2);
    const s = h.snapshot([], noDeadLetters);
    expect(s.history.applied_per_second.every((r) => r === 10)).toBe(true);
  });

  it('passes the dead letters table view through with its time', () => {
    const h = new StatsHistory();
    h.add(reading(0, 0));
    const latest = [
      {
        reason: 'oversized',
        partition: 3,
        offset: 42,
        detail: '<script>x</script>',
        recorded_at: '2026-11-25T12:00:00.000Z',
      },
    ];
    const s = h.snapshot([3], { latest, asOfMs: T0, error: 'timeout' });
    expect(s.dead_letters).toEqual({
      by_reason: { malformed_json: 2 },
      latest,
      latest_as_of: new Date(T0).toISOString(),
      latest_error: 'timeout',
    });
  });

  it('refuses a snapshot before any reading', () => {
    expect(() => new StatsHistory().snapshot([], noDeadLetters)).toThrow(/no reading/);
  });
});
