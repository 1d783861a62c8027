import { describe, expect, it } from 'vitest';
import { defaultRuleSet } from '../../../src/rules/index.js';
import { ev, purchaseRecord, rulesFrom, user } from './support.js';

const rules = defaultRuleSet();
const lenient = rulesFrom('allow_negative: true');
const applied = (delta: number, earnedDelta = 0) => ({ kind: 'applied', delta, earnedDelta });
const insufficient = { kind: 'rejected', reason: 'insufficient_balance' };

describe('redeem', () => {
  it.each([
    ['exactly the balance', 100, 100, applied(-100)],
    ['less than the balance', 100, 40, applied(-40)],
    ['more than the balance', 100, 101, insufficient],
    ['zero', 0, 0, applied(0)],
  ])('%s', (_name, balance, amount, expected) => {
    expect(rules.evaluate(ev('redeem', amount), user(balance, 500))).toEqual(expected);
  });
  it('allow_negative lets it through', () => {
    expect(lenient.evaluate(ev('redeem', 101), user(100))).toEqual(applied(-101));
  });
  it('a zero redeem gives +0, not -0', () => {
    const o = rules.evaluate(ev('redeem', 0), user(5));
    expect(o.kind === 'applied' && Object.is(o.delta, 0)).toBe(true);
  });
});

describe('adjust (signed points; never moves tiers)', () => {
  it.each([
    ['credit', 0, 50, applied(50)],
    ['debit within the balance', 20, -20, applied(-20)],
    ['debit past the balance', 20, -30, insufficient],
    ['credit to a balance in clawback debt', -50, 10, applied(10)],
  ])('%s', (_name, balance, amount, expected) => {
    expect(rules.evaluate(ev('adjust', amount), user(balance))).toEqual(expected);
  });
  it('allow_negative lets a debit past the balance through', () => {
    expect(lenient.evaluate(ev('adjust', -30), user(20))).toEqual(applied(-30));
  });
});

describe('refund (proportional clawback)', () => {
  it('without the purchase record: unknown_purchase', () => {
    expect(rules.evaluate(ev('refund', 10), user(100))).toEqual({ kind: 'rejected', reason: 'unknown_purchase' });
  });
  it.each([
    // purchase amount, points earned, already refunded (amount, points), refund amount, points back
    ['a quarter', 100, 200, 0, 0, 25, 50],
    ['the second quarter', 100, 200, 25, 50, 25, 50],
    ['the rest', 100, 200, 50, 100, 50, 100],
    ['floored share (customer-favourable)', 100, 99, 0, 0, 33.33, 32], // floor(32.9967)
    ['second third', 100, 99, 33.33, 32, 33.33, 33], // floor(65.9934) - 32
    ['last part takes exactly the rest', 100, 99, 66.66, 65, 33.34, 34],
    ['over-refund in one go is capped at the points earned', 100, 200, 0, 0, 150, 200],
    ['over-refund after a partial one takes only the rest', 100, 200, 50, 100, 80, 100],
    ['refund after a full refund takes nothing', 100, 200, 100, 200, 10, 0],
    ['a purchase that earned nothing', 0.5, 0, 0, 0, 0.5, 0],
    ['a purchase of amount 0: takes back the rest', 0, 3, 0, 0, 0, 3],
  ])('%s', (_name, amount, earned, amountRefunded, pointsRefunded, refund, back) => {
    const o = rules.evaluate(
      ev('refund', refund),
      user(1000),
      purchaseRecord(amount, earned, amountRefunded, pointsRefunded),
    );
    expect(o).toEqual(applied(0 - back, 0 - back));
  });
  it('a sequence of partial refunds adds up to the points earned', () => {
    const p = purchaseRecord(100, 99);
    for (const amount of [33.33, 33.33, 33.34]) {
      const o = rules.evaluate(ev('refund', amount), user(1000), p);
      if (o.kind !== 'applied') throw new Error('rejected');
      p.amountRefunded += amount;
      p.pointsRefunded -= o.delta;
    }
    expect(p.pointsRefunded).toBe(99);
  });
  it('may take the balance below zero even when allow_negative is false', () => {
    expect(rules.evaluate(ev('refund', 100), user(10, 200), purchaseRecord(100, 200))).toEqual(applied(-200, -200));
  });
});
