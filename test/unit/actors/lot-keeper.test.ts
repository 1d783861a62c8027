import { describe, expect, it } from 'vitest';
import { crossesMidnight, LotKeeper } from '../../../src/actors/lot-keeper.js';
import { LotChanges } from '../../../src/lifecycle/lot-sql.js';
import { NEVER } from '../../../src/lifecycle/lot-times.js';

const DAY = 86_400_000;
const D = (n: number): number => Date.UTC(2026, 0, 1) + n * DAY;

describe('crossesMidnight', () => {
  it('is true exactly when a midnight UTC lies in (from, to]', () => {
    expect(crossesMidnight(D(0) + 1, D(1) - 1)).toBe(false);
    expect(crossesMidnight(D(0) + 1, D(1))).toBe(true);
    expect(crossesMidnight(D(0), D(1) - 1)).toBe(false); // from is the midnight itself: already passed
    expect(crossesMidnight(D(0), D(0))).toBe(false);
    expect(crossesMidnight(-Infinity, D(0) + 5)).toBe(true);
    expect(crossesMidnight(-Infinity, -Infinity)).toBe(false);
    expect(crossesMidnight(D(3), D(1))).toBe(false);
  });
});

describe('LotKeeper', () => {
  it('loads a user with its lots, its debt (lots less balance) and, for older points, a never-expiring lot', () => {
    const k = new LotKeeper();
    k.load(D(10), 3, 0, false);
    k.adopt(0, [{ available: D(1), expiry: D(400), remaining: 30 }], 30);
    expect([k.bookOf(0).debt, k.bookOf(0).spendableAt(k.clock)]).toEqual([0, 30]);
    k.adopt(1, [{ available: D(1), expiry: D(400), remaining: 30 }], 50); // 20 points from before the block
    expect(k.bookOf(1).spendableAt(k.clock)).toBe(50);
    const c = new LotChanges();
    expect(k.collect(1, 'u1', c)).toBe(1);
    expect([c.users, c.available, c.expiry, c.remaining]).toEqual([['u1'], [0], [null], [20]]);
    k.adopt(2, undefined, 0);
    expect(k.existing(2)).toBeUndefined();
    k.adopt(3, undefined, -7); // clawback debt, no lots
    expect(k.bookOf(3).debt).toBe(7);
    expect(k.bookOf(3).spendableAt(k.clock)).toBe(-7);
  });

  it('asks for a scan and an SQL expiry only once a midnight passed, and settles into rows', () => {
    const k = new LotKeeper();
    k.load(D(10) + 5, 0, 0, false);
    k.adopt(0, [{ available: D(1), expiry: D(11), remaining: 9 }], 9);
    k.advance(D(10) + 100);
    expect([k.needsScan(), k.needsSqlExpiry()]).toEqual([false, false]);
    k.advance(D(11));
    expect([k.needsScan(), k.needsSqlExpiry()]).toEqual([true, true]);
    const settled: number[] = [];
    k.scan((s) => settled.push(k.settle(s)));
    expect(settled).toEqual([9]);
    expect([k.rows.length, k.rows.at(0), k.rows.points(0)]).toEqual([1, D(11), 9]);
    expect(k.needsScan()).toBe(false);
    expect(k.needsSqlExpiry()).toBe(true); // until a commit stores the clock
    const c = new LotChanges();
    expect(k.collect(0, 'u0', c)).toBe(-1);
    expect(c.remaining).toEqual([0]);
    k.committed(0);
    expect(k.existing(0)).toBeUndefined(); // nothing left: the book is dropped
    k.committedClock = k.clock;
    expect(k.needsSqlExpiry()).toBe(false);
    expect(NEVER).toBe(Infinity);
  });

  it('keeps asking for an SQL expiry while a backlog is left, without a midnight passing', () => {
    const k = new LotKeeper();
    k.load(D(10) + 5, 0, 7, true); // a previous owner left lots due at the stored clock
    expect([k.seq, k.needsSqlExpiry(), k.crossedSinceCommit()]).toEqual([7, true, false]);
    k.backlog = false; // a flush expired fewer than its bound
    expect(k.needsSqlExpiry()).toBe(false);
    k.advance(D(11));
    expect([k.needsSqlExpiry(), k.crossedSinceCommit()]).toEqual([true, true]);
    k.backlog = true;
    k.reset(); // a fence or a switch of the block: the backlog is looked for again at the next load
    expect(k.backlog).toBe(false);
  });

  it('settles held users a bounded share per scan, restarting when another midnight passes', () => {
    const k = new LotKeeper();
    k.load(D(10) + 5, 0, 0, false);
    // Six users with a lot expiring at D(11) (user 2 two of them: one row, two lots), slot 4 without a book,
    // user 7 with nothing due.
    for (const s of [0, 1, 3, 5, 6]) k.adopt(s, [{ available: D(1), expiry: D(11), remaining: 10 + s }], 10 + s);
    k.adopt(
      2,
      [
        { available: D(1), expiry: D(11), remaining: 12 },
        { available: D(2), expiry: D(11), remaining: 4 },
      ],
      16,
    );
    k.adopt(7, [{ available: D(1), expiry: D(40), remaining: 3 }], 3);
    k.advance(D(11) + 1);
    const visit = (seen: number[]) => (s: number) => {
      seen.push(s);
      k.settle(s);
      return k.rows.lots;
    };
    const first: number[] = [];
    expect(k.scan(visit(first), 2)).toBe(false); // two lots: users 0 and 1
    expect(first).toEqual([0, 1]);
    expect([k.scanning, k.needsScan()]).toEqual([true, true]);
    const second: number[] = [];
    expect(k.scan(visit(second), 2)).toBe(false);
    expect(second).toEqual([2]); // whole users: user 2's two lots reach the bound
    expect([k.rows.length, k.rows.lots, k.rows.points(0)]).toEqual([1, 2, 16]);
    expect(k.scan(visit(second), 1)).toBe(false);
    expect(second).toEqual([2, 3]);
    // Another midnight: the scan starts over (users 0..3 were settled at the older clock only).
    k.advance(D(12) + 1);
    const third: number[] = [];
    expect(k.scan(visit(third), 100)).toBe(true);
    expect(third).toEqual([0, 1, 2, 3, 5, 6, 7]);
    expect([k.scanning, k.needsScan()]).toEqual([false, false]);
    // Every due lot expired: users 0..3 in the first scans, 5 and 6 in the last (slot 4 has no book).
    expect([0, 1, 2, 3, 5, 6].map((s) => k.bookOf(s).spendableAt(k.clock))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(k.bookOf(7).spendableAt(k.clock)).toBe(3);
    k.advance(D(13) + 1);
    expect(k.needsScan()).toBe(true);
    expect(k.scan(visit([]), 1)).toBe(true); // nothing due: one call visits everyone
    k.advance(D(14) + 1);
    k.scan(visit([]), 0);
    expect(k.scanning).toBe(true);
    k.reset(); // a fence: the books are dropped, and so is the scan
    expect(k.scanning).toBe(false);
  });
});
