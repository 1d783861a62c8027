import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../src/backoff.js';

describe('backoffMs', () => {
  it('doubles from the base and stops at the cap', () => {
    const noJitter = { baseMs: 100, capMs: 5000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffMs(n, noJitter))).toEqual([
      100, 200, 400, 800, 1600, 3200, 5000, 5000,
    ]);
    expect(backoffMs(1000, noJitter)).toBe(5000);
  });

  it('jitter takes away at most its share of the delay', () => {
    const o = { baseMs: 1000, capMs: 1000, jitter: 0.5 };
    expect(backoffMs(3, o, () => 0)).toBe(500);
    expect(backoffMs(3, o, () => 0.999)).toBeCloseTo(999.5);
  });
});
