import { describe, expect, it } from 'vitest';
import { ExpiryRows } from '../../../src/lifecycle/expiry-rows.js';
import { LotBook, type LotChange } from '../../../src/lifecycle/lot-book.js';

const D = (day: number): number => Date.UTC(2026, 0, 1) + day * 86_400_000;
const H = 3_600_000;

function lotsOf(b: LotBook): [number, number, number][] {
  const out: [number, number, number][] = [];
  b.forEachOpenLot((a, e, r) => out.push([a, e, r]));
  return out;
}

function rowsOf(b: LotBook, clock: number): [number, number][] {
  const rows = new ExpiryRows();
  b.settle(clock, rows);
  const out: [number, number][] = [];
  for (let i = 0; i < rows.length; i++) out.push([rows.at(i), rows.points(i)]);
  return out;
}

function changesOf(b: LotBook): [number, number, number, LotChange][] {
  const out: [number, number, number, LotChange][] = [];
  b.forEachChange((a, e, r, c) => out.push([a, e, r, c]));
  return out;
}

describe('LotBook', () => {
  it('spends the lot expiring first, and among equal expiries the older one', () => {
    const b = new LotBook();
    b.credit(10, D(0), D(30), D(2));
    b.credit(10, D(1), D(20), D(2));
    b.credit(10, D(2), D(20), D(2)); // available at the clock with the same expiry: joins D(1)'s lot
    b.credit(5, D(3), D(20), D(2)); // pending at the clock: a lot of its own
    expect(lotsOf(b)).toEqual([
      [D(1), D(20), 20],
      [D(3), D(20), 5],
      [D(0), D(30), 10],
    ]);
    b.debit(22, D(5));
    expect(lotsOf(b)).toEqual([
      [D(3), D(20), 3],
      [D(0), D(30), 10],
    ]);
  });

  it('a redeem spends only what is available; spendable and pending split the total', () => {
    const b = new LotBook();
    b.credit(10, D(0), D(30), D(0));
    b.credit(7, D(14), D(30), D(0));
    expect([b.spendableAt(D(1)), b.pendingAt(D(1)), b.total()]).toEqual([10, 7, 17]);
    expect([b.spendableAt(D(14)), b.pendingAt(D(14))]).toEqual([17, 0]); // released at its moment, nothing written
    b.debit(4, D(1));
    expect(lotsOf(b)).toEqual([
      [D(0), D(30), 6],
      [D(14), D(30), 7],
    ]);
  });

  it('expiry takes every lot expired at the clock, one row per moment, and only those', () => {
    const b = new LotBook();
    b.credit(3, D(0), D(10), D(0));
    b.credit(4, D(1), D(10), D(0));
    b.credit(5, D(0), D(11), D(0));
    b.credit(6, D(0), Infinity, D(0));
    expect(rowsOf(b, D(10) - 1)).toEqual([]);
    expect(rowsOf(b, D(11))).toEqual([
      [D(10), 7],
      [D(11), 5],
    ]);
    expect(rowsOf(b, D(12))).toEqual([]); // already expired lots are not expired again
    expect(b.total()).toBe(6);
    expect(b.nextExpiry()).toBe(Infinity);
  });

  it('a refund takes back from its own pending lot first, the rest from spendable points, then as debt', () => {
    const b = new LotBook();
    b.credit(50, D(0), D(60), D(0)); // older, spendable
    b.credit(30, D(14), D(74), D(0)); // the refunded purchase, still pending
    expect(b.refund(40, D(14), D(74), D(1))).toBe(0);
    expect(lotsOf(b)).toEqual([[D(0), D(60), 40]]);
    expect(b.refund(100, D(14), D(74), D(1))).toBe(60); // own lot is empty: 40 from spendable, 60 of debt
    expect([b.spendableAt(D(1)), b.debt, b.openLots()]).toEqual([-60, 60, 0]);
  });

  it('a refund of a purchase whose lot is available takes from the available lots of that expiry', () => {
    const b = new LotBook();
    b.credit(10, D(0), D(30), D(0));
    b.credit(10, D(0), D(20), D(0));
    expect(b.takeBack(15, D(0), D(30), D(1))).toBe(5); // only the D(30) lot is its own
    expect(lotsOf(b)).toEqual([[D(0), D(20), 10]]);
    expect(b.takeBack(5, D(0), D(30), D(30))).toBe(5); // expired at the clock: nothing to take
  });

  it('ignores lots expired at the clock even before they are settled', () => {
    const b = new LotBook();
    b.credit(10, D(0), D(30), D(0));
    b.credit(10, D(0), D(40), D(0));
    expect([b.spendableAt(D(30)), b.pendingAt(D(-1))]).toEqual([10, 20]);
    expect(b.takeBack(4, D(0), D(30), D(30))).toBe(4);
    expect(b.debit(15, D(30))).toBe(5);
    expect(lotsOf(b)).toEqual([[D(0), D(30), 10]]); // left for settle to expire
    expect(rowsOf(b, D(30))).toEqual([[D(30), 10]]);
  });

  it('a credit pays the debt first, even a pending one', () => {
    const b = new LotBook();
    b.debit(30, D(0));
    expect(b.debt).toBe(30);
    b.credit(20, D(14), D(60), D(0));
    expect([b.debt, b.openLots(), b.total()]).toEqual([10, 0, -10]);
    b.credit(25, D(14), D(60), D(0));
    expect([b.debt, b.spendableAt(D(0)), b.pendingAt(D(0))]).toEqual([0, 0, 15]);
  });

  it('a debit beyond the available points borrows from pending lots before going into debt', () => {
    const b = new LotBook();
    b.credit(5, D(0), D(60), D(0));
    b.credit(10, D(14), D(60), D(0));
    expect(b.debit(20, D(1))).toBe(5);
    expect([b.openLots(), b.debt]).toEqual([0, 5]);
  });

  it('a late lot already expired at the clock expires at once and is not kept', () => {
    const b = new LotBook();
    expect(b.credit(8, D(0), D(10), D(10))).toBe(8);
    expect(b.isEmpty()).toBe(true);
  });

  it('a day of purchases makes one lot', () => {
    const b = new LotBook();
    for (let h = 0; h < 24; h++) b.credit(1, D(15), D(366), D(0) + h * H);
    expect(lotsOf(b)).toEqual([[D(15), D(366), 24]]);
  });

  it('reports inserts, updates and deletes for a flush, and nothing once written', () => {
    const b = new LotBook();
    b.load(D(0), D(10), 5);
    b.load(D(0), D(20), 5);
    b.debit(5, D(1)); // empties the D(10) lot
    b.credit(3, D(2), D(30), D(1));
    b.credit(2, D(0), D(20), D(1));
    expect(changesOf(b)).toEqual([
      [D(0), D(10), 0, 'delete'],
      [D(0), D(20), 7, 'update'],
      [D(2), D(30), 3, 'insert'],
    ]);
    b.markWritten();
    expect(changesOf(b)).toEqual([]);
    expect(lotsOf(b)).toEqual([
      [D(0), D(20), 7],
      [D(2), D(30), 3],
    ]);
  });

  it('a lot created and emptied between two flushes writes nothing', () => {
    const b = new LotBook();
    b.credit(3, D(0), D(30), D(0));
    b.debit(3, D(0));
    expect(changesOf(b)).toEqual([]);
  });
});

describe('ExpiryRows', () => {
  it('joins points of the same moment given one after another, and starts over on reset', () => {
    const r = new ExpiryRows();
    r.add(1, 2);
    r.add(1, 3);
    r.add(5, 1);
    expect([r.length, r.at(0), r.points(0), r.at(1), r.points(1)]).toEqual([2, 1, 5, 5, 1]);
    r.reset();
    r.add(7, 4);
    expect([r.length, r.at(0), r.points(0)]).toEqual([1, 7, 4]);
  });
});
