import { describe, expect, it } from 'vitest';
import { UserTable } from '../../../src/actors/user-table.js';

const NO_RECENT = { recentFrom: null, recentIds: Buffer.alloc(0) };

describe('UserTable', () => {
  it('keeps each user in its own slot through growth, with stored values or zeros', () => {
    const t = new UserTable(2);
    for (let i = 0; i < 100; i++)
      t.add(
        `u${i}`,
        i % 2 === 0
          ? { balance: i, lifetimeEarned: 2 * i, earnedDay: i, earnedToday: 3 * i, lastOffset: 5 * i, ...NO_RECENT }
          : undefined,
      );
    expect(t.size).toBe(100);
    for (let i = 0; i < 100; i++) {
      const s = t.slotOf(`u${i}`)!;
      expect(t.ids[s]).toBe(`u${i}`);
      expect([t.balance[s], t.lifetimeEarned[s], t.earnedDay[s], t.earnedToday[s], t.lastOffset[s]]).toEqual(
        i % 2 === 0 ? [i, 2 * i, i, 3 * i, 5 * i] : [0, 0, 0, 0, 0],
      );
    }
  });

  it('evicts the oldest clean users only, and reuses their slots for new users', () => {
    const t = new UserTable(8);
    for (let i = 0; i < 10; i++)
      t.add(`u${i}`, { balance: i, lifetimeEarned: 0, earnedDay: 0, earnedToday: 0, lastOffset: 0, ...NO_RECENT });
    t.dirty[t.slotOf('u0')!] = 1; // pending changes: must stay
    t.evictClean(6);
    expect(t.size).toBe(6);
    expect(t.slotOf('u0')).toBeDefined();
    for (const gone of ['u1', 'u2', 'u3', 'u4']) expect(t.slotOf(gone)).toBeUndefined();
    const before = t.balance.length;
    const s = t.add('new', undefined);
    expect(t.balance.length).toBe(before); // a freed slot, no growth
    expect([t.balance[s], t.dirty[s], t.ids[s]]).toEqual([0, 0, 'new']);
    expect(t.balance[t.slotOf('u9')!]).toBe(9);
  });

  it('clear forgets everyone', () => {
    const t = new UserTable();
    t.add('a', undefined);
    t.clear();
    expect(t.size).toBe(0);
    expect(t.slotOf('a')).toBeUndefined();
  });
});
