import { describe, expect, it } from 'vitest';
import { defaultRuleSet } from '../../../src/rules/index.js';
import { ev, points, rulesFrom, user } from './support.js';

// Calendar used below (checked against Date#getUTCDay): 2026-11-25 Wed, 11-27 Fri, 11-28 Sat,
// 11-29 Sun, 11-30 Mon, 12-01 Tue, 12-05 Sat.

describe('default rules: weekday / weekend by the local calendar day', () => {
  const rules = defaultRuleSet();
  it.each([
    ['Wednesday', '2026-11-25T10:00:00Z', 12.99, 12],
    ['Saturday: floor before doubling (12.5 -> 12 x 2)', '2026-11-28T10:00:00Z', 12.5, 24],
    ['Sunday', '2026-11-29T10:00:00Z', 7, 14],
    ['Saturday local and Sunday in UTC (both weekend)', '2026-11-28T23:30:00-05:00', 10, 20],
    ['Friday local, Saturday in UTC: weekday', '2026-11-27T20:00:00-05:00', 10, 10],
    ['Monday local, Sunday in UTC: weekday', '2026-11-30T01:00:00+02:00', 10, 10],
    ['Saturday local, Friday in UTC: weekend', '2026-11-28T05:00:00+09:00', 10, 20],
    ['Sunday local, Monday in UTC: weekend', '2026-11-29T23:30:00-05:00', 10, 20],
    ['zero amount', '2026-11-28T10:00:00Z', 0, 0],
    ['below one unit', '2026-11-28T10:00:00Z', 0.99, 0],
  ])('%s', (_name, ts, amount, expected) => {
    expect(rules.evaluate(ev('purchase', amount, ts), user())).toEqual({
      kind: 'applied',
      delta: expected,
      earnedDelta: expected,
    });
  });
});

describe('date range rule (inclusive local dates)', () => {
  const rules = rulesFrom(`
rules:
  - name: black-friday
    when: { date_range: { from: 2026-11-27, to: 2026-11-30 } }
    multiplier: 3
`);
  it.each([
    ['the day before', '2026-11-26T23:59:59Z', 10],
    ['first day', '2026-11-27T00:00:00Z', 30],
    ['last day', '2026-11-30T23:59:59Z', 30],
    ['the day after', '2026-12-01T00:00:00Z', 10],
    ['1 December local, 30 November UTC', '2026-12-01T00:30:00+01:00', 10],
    ['30 November local, 1 December UTC', '2026-11-30T23:30:00-01:00', 30],
  ])('%s', (_name, ts, expected) => {
    expect(points(rules, ev('purchase', 10, ts))).toBe(expected);
  });
});

describe('category and sku rules', () => {
  const rules = rulesFrom(`
rules:
  - { when: { category: electronics }, multiplier: 2 }
  - { when: { sku: [ABC-1, ABC-2] }, multiplier: 5 }
`);
  it.each([
    ['matching category', { category: 'electronics' }, 20],
    ['other category', { category: 'books' }, 10],
    ['category compared exactly', { category: 'Electronics' }, 10],
    ['no category: the rule does not match', {}, 10],
    ['sku in the list', { sku: 'ABC-2' }, 50],
    ['other sku', { sku: 'XYZ' }, 10],
    ['both match: multipliers multiply', { category: 'electronics', sku: 'ABC-1' }, 100],
  ])('%s', (_name, extra, expected) => {
    expect(points(rules, ev('purchase', 10.4, undefined, extra))).toBe(expected);
  });
});

describe('items: base and multipliers per item, summed, then tier, rounding and caps once', () => {
  const rules = rulesFrom(`
rules:
  - { when: { category: electronics }, multiplier: 2 }
`);
  const items = [{ amount: 10.7, category: 'electronics' }, { amount: 5.9, category: 'books' }, { amount: 3.5 }];
  it('per-item categories; an item without one does not match', () => {
    // floor(10.7) x 2 + floor(5.9) + floor(3.5) = 20 + 5 + 3
    expect(points(rules, ev('purchase', 20.1, undefined, { items }))).toBe(28);
  });
  it("an item without a category takes the event's", () => {
    // 20 + 5 + floor(3.5) x 2 = 31; the books item keeps its own category
    expect(points(rules, ev('purchase', 20.1, undefined, { items, category: 'electronics' }))).toBe(31);
  });
  it('item sku', () => {
    const bySku = rulesFrom('rules: [{ when: { sku: S1 }, multiplier: 4 }]');
    expect(points(bySku, ev('purchase', 3, undefined, { items: [{ amount: 1, sku: 'S1' }, { amount: 2 }] }))).toBe(6);
  });
  it('default rules: base floored per item, weekend doubling applies to each', () => {
    // Saturday: (floor(0.5) + floor(0.5) + floor(2.7)) x 2 = 4, where the amount 3.7 alone would give 6
    expect(
      points(
        defaultRuleSet(),
        ev('purchase', 3.7, '2026-11-28T10:00:00Z', { items: [{ amount: 0.5 }, { amount: 0.5 }, { amount: 2.7 }] }),
      ),
    ).toBe(4);
  });
  it('base_rounding none: fractions summed, rounded once', () => {
    const exact = rulesFrom('earn: { base_rounding: none }');
    // floor(0.5 + 0.5 + 2.7) = 3
    expect(
      points(exact, ev('purchase', 3.7, undefined, { items: [{ amount: 0.5 }, { amount: 0.5 }, { amount: 2.7 }] })),
    ).toBe(3);
  });
});

describe('tiers by lifetime earned points', () => {
  const rules = rulesFrom(`
tiers:
  - { name: base, min_lifetime_points: 0, multiplier: 1 }
  - { name: silver, min_lifetime_points: 1000, multiplier: 1.5 }
  - { name: gold, min_lifetime_points: 5000, multiplier: 2 }
`);
  it.each([
    ['new user', user(0, 0), 101],
    ['just below silver', user(0, 999), 101],
    ['silver: floor(101 x 1.5)', user(0, 1000), 151],
    ['gold', user(0, 7000), 202],
    ['a big balance does not count, lifetime does', user(100_000, 10), 101],
    ['a spent-down balance keeps the tier', user(0, 5000), 202],
  ])('%s', (_name, u, expected) => {
    expect(points(rules, ev('purchase', 101.9), u)).toBe(expected);
  });
  it('below the first tier: multiplier 1', () => {
    const r = rulesFrom('tiers: [{ name: silver, min_lifetime_points: 100, multiplier: 3 }]');
    expect(points(r, ev('purchase', 10), user(0, 99))).toBe(10);
    expect(points(r, ev('purchase', 10), user(0, 100))).toBe(30);
  });
});

describe('minimum spend', () => {
  const rules = rulesFrom('earn: { minimum_spend: 10 }');
  it('below it: 0 points, applied not rejected', () => {
    expect(rules.evaluate(ev('purchase', 9.99), user())).toEqual({ kind: 'applied', delta: 0, earnedDelta: 0 });
  });
  it('at it: earns', () => {
    expect(points(rules, ev('purchase', 10))).toBe(10);
  });
  it('compares the purchase total, also with items', () => {
    expect(points(rules, ev('purchase', 9, undefined, { items: [{ amount: 5 }, { amount: 6 }] }))).toBe(0);
    expect(points(rules, ev('purchase', 11, undefined, { items: [{ amount: 5 }, { amount: 6 }] }))).toBe(11);
  });
});

describe('caps (after rounding and tier)', () => {
  it('per event', () => {
    const rules = rulesFrom(
      'earn: { cap_per_event: 50 }\nrules: [{ when: { days_of_week: [sat, sun] }, multiplier: 2 }]',
    );
    expect(points(rules, ev('purchase', 80, '2026-11-28T10:00:00Z'))).toBe(50);
    expect(points(rules, ev('purchase', 20, '2026-11-28T10:00:00Z'))).toBe(40);
  });
  it('per event, after the tier multiplier', () => {
    const rules = rulesFrom('earn: { cap_per_event: 50 }\ntiers: [{ name: t, min_lifetime_points: 0, multiplier: 2 }]');
    expect(points(rules, ev('purchase', 30))).toBe(50);
    expect(points(rules, ev('purchase', 20))).toBe(40);
  });
  it.each([
    ['nothing earned today', 0, 50],
    ['70 earned today: 30 left', 70, 30],
    ['cap reached', 100, 0],
    ['over the cap already', 120, 0],
  ])('per user per day: %s', (_name, earnedToday, expected) => {
    const rules = rulesFrom('earn: { cap_per_user_per_day: 100 }');
    expect(points(rules, ev('purchase', 50), user(0, 0, earnedToday))).toBe(expected);
  });
  it('both: the smaller wins', () => {
    const rules = rulesFrom('earn: { cap_per_event: 40, cap_per_user_per_day: 100 }');
    expect(points(rules, ev('purchase', 50), user(0, 0, 0))).toBe(40);
    expect(points(rules, ev('purchase', 50), user(0, 0, 90))).toBe(10);
  });
});

describe('rounding', () => {
  const withMode = (base: string, mode: string, multiplier = 1.5) =>
    rulesFrom(`earn: { base_rounding: ${base}, rounding: ${mode} }\nrules: [{ multiplier: ${multiplier} }]`);
  it.each([
    // amount, base_rounding, rounding, expected
    [10.5, 'none', 'floor', 15], // 15.75
    [10.5, 'none', 'round', 16],
    [10.5, 'none', 'ceil', 16],
    [10.3, 'none', 'floor', 15], // 15.45
    [10.3, 'none', 'round', 15],
    [10.3, 'none', 'ceil', 16],
    [10.5, 'round', 'floor', 16], // round(10.5) = 11, x 1.5 = 16.5
    [10.1, 'ceil', 'floor', 16], // ceil(10.1) = 11, x 1.5 = 16.5
    [10.9, 'floor', 'ceil', 15], // floor(10.9) = 10, x 1.5 = 15
  ])('amount %d, base %s, final %s -> %d', (amount, base, mode, expected) => {
    expect(points(withMode(base, mode), ev('purchase', amount))).toBe(expected);
  });
  it('round is half up', () => {
    expect(points(withMode('floor', 'round', 0.5), ev('purchase', 5))).toBe(3); // 2.5
  });
  it('floating-point noise does not lose a point (1.15 x 100 = 114.99999999999999)', () => {
    expect(points(rulesFrom('earn: { points_per_unit: 100 }'), ev('purchase', 1.15))).toBe(115);
  });
  it('points_per_unit scales the base', () => {
    expect(points(rulesFrom('earn: { points_per_unit: 0.1 }'), ev('purchase', 129.99))).toBe(12);
  });
});

describe('rule order and stop', () => {
  const bf = '{ name: bf, when: { date_range: { from: 2026-11-27, to: 2026-11-30 } }, multiplier: 3, stop: true }';
  const weekend = '{ name: we, when: { days_of_week: [sat, sun] }, multiplier: 2 }';
  it('a matching stop rule ends evaluation of later rules', () => {
    const rules = rulesFrom(`rules: [${bf}, ${weekend}]`);
    expect(points(rules, ev('purchase', 10, '2026-11-28T10:00:00Z'))).toBe(30);
    expect(points(rules, ev('purchase', 10, '2026-12-05T10:00:00Z'))).toBe(20); // bf does not match
  });
  it('rules before the stop rule still apply', () => {
    const rules = rulesFrom(`rules: [${weekend}, ${bf}]`);
    expect(points(rules, ev('purchase', 10, '2026-11-28T10:00:00Z'))).toBe(60);
  });
  it('a stop rule that does not match (missing category) stops nothing', () => {
    const rules = rulesFrom(`rules: [{ when: { category: electronics }, multiplier: 4, stop: true }, ${weekend}]`);
    expect(points(rules, ev('purchase', 10, '2026-11-28T10:00:00Z'))).toBe(20);
    expect(points(rules, ev('purchase', 10, '2026-11-28T10:00:00Z', { category: 'electronics' }))).toBe(40);
  });
  it('stop does not skip the tier', () => {
    const rules = rulesFrom(`rules: [${bf}]\ntiers: [{ name: t, min_lifetime_points: 0, multiplier: 2 }]`);
    expect(points(rules, ev('purchase', 10, '2026-11-28T10:00:00Z'))).toBe(60);
  });
  it('conditions in one when combine with AND', () => {
    const rules = rulesFrom('rules: [{ when: { days_of_week: [sat], category: toys }, multiplier: 2 }]');
    expect(points(rules, ev('purchase', 10, '2026-11-28T10:00:00Z', { category: 'toys' }))).toBe(20);
    expect(points(rules, ev('purchase', 10, '2026-11-29T10:00:00Z', { category: 'toys' }))).toBe(10);
    expect(points(rules, ev('purchase', 10, '2026-11-28T10:00:00Z'))).toBe(10);
  });
  it('a zero multiplier earns nothing', () => {
    expect(
      points(
        rulesFrom('rules: [{ when: { category: gift-cards }, multiplier: 0 }]'),
        ev('purchase', 50, undefined, { category: 'gift-cards' }),
      ),
    ).toBe(0);
  });
});
