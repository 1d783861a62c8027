import { describe, expect, it } from 'vitest';
import { ExpectedBalances, isLocalWeekend } from '../../../../tools/simulator/expected-balances.js';
import { formatTimestamp, generateMessages } from '../../../../tools/simulator/generator.js';
import { decodeEvent } from '../../../../src/events/decode.js';

const opts = { users: 50, skew: 1.1, redeemRatio: 0.3, badRatio: 0.05, seed: 7 };

describe('the simulator', () => {
  it('gives the same bytes for the same seed and different ones for another seed', () => {
    const a = [...generateMessages(500, opts)].map((m) => m.value?.toString());
    const b = [...generateMessages(500, opts)].map((m) => m.value?.toString());
    const c = [...generateMessages(500, { ...opts, seed: 8 })].map((m) => m.value?.toString());
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('marks as bad exactly the messages the engine dead-letters', () => {
    let bad = 0;
    for (const [i, m] of [...generateMessages(3000, opts)].entries()) {
      const r = decodeEvent(
        m.value,
        { topic: 't', partition: 0, offset: i, key: m.key },
        { maxMessageBytes: 65536, maxAmount: 1_000_000 },
      );
      expect(r.ok, `message ${i}: ${m.value?.toString().slice(0, 80)}`).toBe(!m.bad);
      if (m.bad) bad++;
    }
    expect(bad).toBeGreaterThan(100);
  });

  it('formats timestamps in their offset and reads the local weekday back', () => {
    // 2026-11-28 is a Saturday. 23:30 in New York is already Sunday in UTC.
    const ts = formatTimestamp(Date.UTC(2026, 10, 29, 4, 30), '-05:00');
    expect(ts).toBe('2026-11-28T23:30:00-05:00');
    expect(isLocalWeekend(ts)).toBe(true);
    expect(isLocalWeekend(formatTimestamp(Date.UTC(2026, 10, 30, 4, 30), '-05:00'))).toBe(true); // Sunday 23:30 local
    expect(isLocalWeekend(formatTimestamp(Date.UTC(2026, 10, 30, 23, 30), '+09:00'))).toBe(false); // Tuesday local
  });

  it('replays the seed rules: weekend doubling and rejected over-redeems', () => {
    const x = new ExpectedBalances();
    x.add({
      key: 'u',
      value: null,
      bad: false,
      event: { userId: 'u', type: 'purchase', amount: 10.9, timestamp: '2026-11-28T10:00:00Z' },
    });
    x.add({
      key: 'u',
      value: null,
      bad: false,
      event: { userId: 'u', type: 'purchase', amount: 5.5, timestamp: '2026-11-30T10:00:00Z' },
    });
    x.add({
      key: 'u',
      value: null,
      bad: false,
      event: { userId: 'u', type: 'redeem', amount: 100, timestamp: '2026-11-30T10:00:00Z' },
    });
    x.add({
      key: 'u',
      value: null,
      bad: false,
      event: { userId: 'u', type: 'redeem', amount: 25, timestamp: '2026-11-30T10:00:00Z' },
    });
    expect(x.balances.get('u')).toBe(20 + 5 - 25);
    expect(x.rejected).toBe(1);
    expect(x.applied).toBe(3);
  });

  it('cycle mode: N events over N users touch exactly N distinct users; zipf touches fewer', () => {
    const distinct = (o: typeof opts & { cycleUsers?: boolean }): number =>
      new Set([...generateMessages(2000, { ...o, users: 2000, badRatio: 0 })].map((m) => m.key)).size;
    expect(distinct({ ...opts, cycleUsers: true })).toBe(2000);
    expect(distinct({ ...opts, skew: 0 })).toBeLessThan(2000);
  });

  it('lists the users whose balance differs from the replay, on either side', () => {
    const x = new ExpectedBalances();
    x.balances.set('a', 10);
    x.balances.set('b', 5);
    expect(
      x.differences(
        new Map([
          ['a', 10],
          ['b', 5],
        ]),
      ),
    ).toEqual([]);
    expect(
      x.differences(
        new Map([
          ['a', 10],
          ['b', 6],
          ['c', 1],
        ]),
      ),
    ).toEqual([
      { userId: 'b', expected: 5, actual: 6 },
      { userId: 'c', expected: undefined, actual: 1 },
    ]);
    expect(x.differences(new Map([['a', 10]]))).toEqual([{ userId: 'b', expected: 5, actual: undefined }]);
  });
});
