import { describe, expect, it } from 'vitest';
import { ExpectedBalances } from '../../../tools/simulator/expected-balances.js';
import type { SimulatedMessage } from '../../../tools/simulator/generator.js';
import { cyclicBlock, weeksAt, WEEK_MS } from '../../chaos/soak/cyclic-stream.js';
import { add, increase, quantile, type Buckets } from '../../chaos/soak/histogram-window.js';
import { faultPlan } from '../../chaos/soak/run-soak.js';
import { cpuPerEvent, recoveries, windowFigures, type CpuMinute, type SoakSample } from '../../chaos/soak/verdict.js';

const bytes = (text: string | null): Buffer | null => (text === null ? null : Buffer.from(text));

/** The replay's view of a message as the engine receives it (ids as cycled). */
function asSimulated(key: string | null, value: Buffer | null, original: SimulatedMessage): SimulatedMessage {
  if (original.bad || original.event === undefined || value === null) return original;
  const b = JSON.parse(value.toString()) as { event_id?: string; original_event_id?: string; timestamp: string };
  return {
    key,
    value,
    bad: false,
    event: { ...original.event, eventId: b.event_id, originalEventId: b.original_event_id, timestamp: b.timestamp },
  };
}

describe('cyclic soak stream', () => {
  const gen = { users: 50, skew: 1.0, redeemRatio: 0, refundRatio: 0.2, duplicateRatio: 0.1, badRatio: 0.01, seed: 5 };

  it('expects exactly what a replay of the cycled messages gives', async () => {
    const { generateMessages } = await import('../../../tools/simulator/generator.js');
    const originals = [...generateMessages(400, gen)];
    const block = cyclicBlock(400, gen);
    const replay = new ExpectedBalances();
    // Each cycle moved by its own number of weeks, as the soak does while event time advances.
    const weeks = [-9, -4, -3];
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < 400; i++) {
        const m = block.message(c, i, weeks[c]);
        replay.add(asSimulated(m.key, bytes(m.value), originals[i]!));
      }
    for (let i = 0; i < 123; i++) {
      const m = block.message(3, i);
      replay.add(asSimulated(m.key, bytes(m.value), originals[i]!));
    }
    expect(replay.duplicates).toBeGreaterThan(0);
    expect(block.expectedAfter(3, 123).differences(replay.balances)).toEqual([]);
    expect(block.expectedAfter(2, 123).differences(replay.balances).length).toBeGreaterThan(0);
  });

  it('gives each cycle new event ids', () => {
    const block = cyclicBlock(50, gen);
    const ids = (c: number): string[] =>
      Array.from({ length: 50 }, (_, i) => block.message(c, i).value?.toString() ?? '').filter((v) =>
        v.includes('"event_id"'),
      );
    expect(ids(0).length).toBeGreaterThan(0);
    expect(ids(0).some((v) => ids(1).includes(v))).toBe(false);
  });

  it('moves every valid event by whole weeks, keeping its offset and the rest of the message', () => {
    const block = cyclicBlock(200, gen);
    let moved = 0;
    for (let i = 0; i < 200; i++) {
      const a = block.message(1, i, 0).value?.toString() ?? '';
      const b = block.message(1, i, -3).value?.toString() ?? '';
      if (!a.startsWith('{"') || !a.includes('"timestamp"')) continue;
      let ja: { timestamp?: unknown };
      try {
        ja = JSON.parse(a) as { timestamp?: unknown };
      } catch {
        continue; // a deliberately malformed message is sent as it is
      }
      const jb = JSON.parse(b) as { timestamp?: unknown };
      if (typeof ja.timestamp !== 'string' || typeof jb.timestamp !== 'string' || ja.timestamp === jb.timestamp)
        continue;
      moved++;
      expect(Date.parse(ja.timestamp) - Date.parse(jb.timestamp)).toBe(3 * WEEK_MS);
      expect(jb.timestamp.slice(19)).toBe(ja.timestamp.slice(19));
      expect({ ...jb, timestamp: 0 }).toEqual({ ...ja, timestamp: 0 });
    }
    expect(moved).toBeGreaterThan(150);
  });

  it('walks event time from -span weeks to the block itself over the soak', () => {
    expect(weeksAt(0, 1800)).toBe(-9);
    expect(weeksAt(179, 1800)).toBe(-9);
    expect(weeksAt(180, 1800)).toBe(-8);
    expect(weeksAt(1799, 1800)).toBe(0);
    expect(weeksAt(5000, 1800)).toBe(0);
  });

  it('refuses redeems (their effect depends on the balance)', () => {
    expect(() => cyclicBlock(10, { ...gen, redeemRatio: 0.1 })).toThrow();
  });
});

describe('soak measures', () => {
  const b = (a: number, c: number, inf: number): Buckets => [
    [0.01, a],
    [0.1, c],
    [Infinity, inf],
  ];

  it("takes a restarted engine's counts as a reset", () => {
    expect(increase(b(1, 2, 3), b(2, 5, 6))).toEqual(b(1, 3, 3));
    expect(increase(b(10, 20, 30), b(1, 2, 2))).toEqual(b(1, 2, 2));
    expect(add(b(1, 1, 1), b(1, 2, 3))).toEqual(b(2, 3, 4));
  });

  it('interpolates quantiles inside a bucket', () => {
    expect(
      quantile(0.5, [
        [0.1, 0],
        [0.2, 10],
        [Infinity, 10],
      ]),
    ).toBeCloseTo(0.15);
    expect(
      quantile(0.99, [
        [0.1, 0],
        [Infinity, 0],
      ]),
    ).toBeNaN();
  });

  it('summarises windows and finds when lag came back after each fault', () => {
    const samples: SoakSample[] = Array.from({ length: 100 }, (_, t) => ({
      t,
      rssMiB: t < 50 ? 100 : 110,
      lag: t >= 20 && t < 30 ? 50_000 : 10,
      flush: b(1, 1, 1),
    }));
    const w = windowFigures(samples, 50, 100);
    expect(w.rssMiB).toBe(110);
    expect(w.flushP99Ms).toBeCloseTo(9.9);
    expect(
      recoveries(
        samples,
        [
          { t: 19.5, kind: 'kill' },
          { t: 60, kind: 'join' },
        ],
        1000,
      ),
    ).toEqual([10.5, 1]);
    expect(
      recoveries(
        samples.map((s) => ({ ...s, lag: s.t > 20 ? 50_000 : 0 })),
        [{ t: 19.5, kind: 'kill' }],
        1000,
      ),
    ).toEqual([null]);
  });

  it('plans a kill every sixth and a join and leave every third', () => {
    const plan = faultPlan(1800);
    expect(plan.filter((f) => f.kind === 'kill').map((f) => f.t)).toEqual([300, 600, 900, 1200, 1500]);
    expect(plan.filter((f) => f.kind === 'join').map((f) => f.t)).toEqual([450, 1050, 1650]);
    expect(plan.filter((f) => f.kind === 'leave').map((f) => f.t)).toEqual([525, 1125, 1725]);
  });
});

describe('cpuPerEvent', () => {
  const minute = (t: number, engine: number, committed: number): CpuMinute => ({
    t,
    seconds: 60,
    committed,
    cores: { engine, postgres: engine / 2, kafka: 0, other: 0 },
  });

  it("weighs each minute's cores by its seconds, over the window's committed events", () => {
    const c = cpuPerEvent([minute(60, 1, 600_000), minute(120, 0.5, 600_000), minute(180, 2, 1)], 30, 150);
    // (1 x 60 + 0.5 x 60) CPU seconds over 1.2M events: 75 µs each.
    expect(c?.engine).toBeCloseTo(75, 6);
    expect(c?.postgres).toBeCloseTo(37.5, 6);
  });

  it('has no figure for a window without a sampled minute, rather than a zero', () => {
    expect(cpuPerEvent([minute(60, 1, 600_000)], 70, 110)).toBeNull();
  });
});
