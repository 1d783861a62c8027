import { describe, expect, it } from 'vitest';
import { isTick, keyAt, valueAt } from '../../../src/actors/batch-codec.js';
import { BatchBuilder } from '../../../src/actors/batch-codec.js';
import { isTickMessage, tickTime, tickValue, TICK_HEADER } from '../../../src/kafka/clock-tick.js';

describe('clock ticks', () => {
  it('are recognised by their header only', () => {
    expect(isTickMessage({ headers: [{ [TICK_HEADER]: Buffer.from('tick') }] })).toBe(true);
    expect(isTickMessage({ headers: [{ other: 'x' }, { [TICK_HEADER]: 'tick' }] })).toBe(true);
    expect(isTickMessage({ headers: [{ [TICK_HEADER]: 'tock' }] })).toBe(false);
    expect(isTickMessage({ headers: [] })).toBe(false);
    expect(isTickMessage({})).toBe(false);
  });

  it('carry whole milliseconds as decimal text; anything else is no time', () => {
    expect(tickTime(tickValue(1_764_000_000_123.7))).toBe(1_764_000_000_123);
    expect(tickTime(Buffer.from('12a'))).toBeNull();
    expect(tickTime(Buffer.from(''))).toBeNull();
    expect(tickTime(Buffer.from('-5'))).toBeNull();
    expect(tickTime(null)).toBeNull();
    expect(tickTime(Buffer.from('1'.repeat(17)))).toBeNull();
  });

  it('stay marked through a packed batch, between events', () => {
    const b = new BatchBuilder(3);
    b.push(10, Buffer.from('u1'), Buffer.from('{}'));
    b.pushTick(11, tickValue(42));
    b.push(12, null, Buffer.from('x'));
    const batch = b.finish();
    const view = new Uint8Array(batch.bytes);
    expect([0, 1, 2].map((i) => isTick(batch, i))).toEqual([false, true, false]);
    expect(keyAt(batch, view, 1)).toBeNull();
    expect(tickTime(valueAt(batch, view, 1))).toBe(42);
    expect(Buffer.from(keyAt(batch, view, 0)!).toString()).toBe('u1');
    expect(keyAt(batch, view, 2)).toBeNull();
  });
});
