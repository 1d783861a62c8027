import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LoyaltyEvent } from '../../../src/events/event.js';
import { DEFAULT_RULES } from '../../../src/rules/defaults.js';
import { defaultRuleSet, parseRules, type RuleSet } from '../../../src/rules/index.js';
import { parseRulesConfig } from '../../../src/rules/parse.js';
import { rulesSchema } from '../../../src/rules/schema.js';
import type { UserState } from '../../../src/rules/types.js';
import { purchaseRecord } from './support.js';

const shippedText = readFileSync(new URL('../../../config/rules.yaml', import.meta.url), 'utf8');

/** The seed's rule, written out independently of src/rules. */
function seed(e: LoyaltyEvent, u: UserState): { kind: string; delta?: number; earnedDelta?: number; reason?: string } {
  if (e.type === 'purchase') {
    const day = new Date(e.timestampMs + e.utcOffsetMinutes * 60_000).getUTCDay();
    const p = Math.floor(e.amount) * (day === 0 || day === 6 ? 2 : 1);
    return { kind: 'applied', delta: p, earnedDelta: p };
  }
  return u.balance < e.amount
    ? { kind: 'rejected', reason: 'insufficient_balance' }
    : { kind: 'applied', delta: 0 - e.amount, earnedDelta: 0 };
}

const MIN_TS = Date.UTC(2000, 0, 1);
const MAX_TS = Date.UTC(2100, 0, 1);
const arbCategory = fc.constantFrom(undefined, 'electronics', 'books', 'toys');
const arbSku = fc.constantFrom(undefined, 'A', 'B');

const arbEvent = (
  type: fc.Arbitrary<'purchase' | 'redeem'>,
  amount: fc.Arbitrary<number>,
): fc.Arbitrary<LoyaltyEvent> =>
  fc
    .record({
      type,
      amount,
      timestampMs: fc.integer({ min: MIN_TS, max: MAX_TS }),
      // Real offsets are -12:00..+14:00 in whole minutes.
      utcOffsetMinutes: fc.integer({ min: -12 * 60, max: 14 * 60 }),
      category: arbCategory,
      sku: arbSku,
      items: fc.option(
        fc.array(
          fc.record({ amount: fc.double({ min: 0, max: 10_000, noNaN: true }), category: arbCategory, sku: arbSku }),
          { minLength: 1, maxLength: 5 },
        ),
        { nil: undefined },
      ),
    })
    .map(({ category, sku, items, ...r }) => ({
      eventId: 'e',
      eventIdGiven: true,
      userId: 'u',
      timestamp: '(generated)',
      ...r,
      ...(category !== undefined && { category }),
      ...(sku !== undefined && { sku }),
      ...(items !== undefined && {
        items: items.map(({ category: c, sku: s, amount: a }) => ({
          amount: a,
          ...(c && { category: c }),
          ...(s && { sku: s }),
        })),
      }),
    }));

const arbUser: fc.Arbitrary<UserState> = fc.record({
  balance: fc.integer({ min: -1_000_000, max: 10_000_000 }),
  lifetimeEarned: fc.integer({ min: 0, max: 10_000_000 }),
  earnedToday: fc.integer({ min: 0, max: 100_000 }),
});

/** Random but valid rules files (written as JSON, which is YAML). */
const arbRulesText: fc.Arbitrary<string> = fc
  .record({
    earn: fc.record({
      points_per_unit: fc.constantFrom(0, 0.1, 1, 1.5, 10, 100),
      base_rounding: fc.constantFrom('floor', 'round', 'ceil', 'none'),
      rounding: fc.constantFrom('floor', 'round', 'ceil'),
      minimum_spend: fc.constantFrom(0, 5, 100),
      cap_per_event: fc.constantFrom(null, 0, 50, 1000),
      cap_per_user_per_day: fc.constantFrom(null, 0, 100, 5000),
    }),
    rules: fc.array(
      fc.record({
        when: fc.constantFrom(
          {},
          { days_of_week: ['sat', 'sun'] },
          { category: 'electronics' },
          { sku: ['A', 'B'] },
          { date_range: { from: '2026-11-27', to: '2026-11-30' }, category: 'toys' },
        ),
        multiplier: fc.constantFrom(0, 0.5, 1, 1.25, 2, 3),
        stop: fc.boolean(),
      }),
      { maxLength: 5 },
    ),
    tiers: fc.constantFrom(
      [],
      [{ name: 'b', min_lifetime_points: 0, multiplier: 1 }],
      [
        { name: 's', min_lifetime_points: 100, multiplier: 1.5 },
        { name: 'g', min_lifetime_points: 5000, multiplier: 2 },
      ],
    ),
  })
  .map((c) => JSON.stringify({ version: 1, ...c }));

describe('properties', () => {
  it('the shipped config/rules.yaml is the built-in default', () => {
    expect(parseRulesConfig(shippedText)).toEqual(rulesSchema.parse(DEFAULT_RULES));
  });

  it('the shipped config and defaultRuleSet() give exactly the seed results', () => {
    const shipped = parseRules(shippedText, 'config/rules.yaml');
    const builtIn = defaultRuleSet();
    // Amounts both as arbitrary doubles and as whole cents (what producers send); no items or categories in the seed.
    const amount = fc.oneof(
      fc.double({ min: 0, max: 1_000_000, maxExcluded: true, noNaN: true }),
      fc.integer({ min: 0, max: 99_999_999 }).map((c) => c / 100),
    );
    const purchase = arbEvent(fc.constant('purchase'), amount).map(({ items: _i, category: _c, sku: _s, ...e }) => e);
    const redeem = arbEvent(fc.constant('redeem'), fc.integer({ min: 0, max: 999_999 })).map(
      ({ items: _i, category: _c, sku: _s, ...e }) => e,
    );
    fc.assert(
      fc.property(fc.oneof(purchase, redeem), arbUser, (e, u) => {
        const expected = seed(e, u);
        expect(shipped.evaluate(e, u)).toEqual(expected);
        expect(builtIn.evaluate(e, u)).toEqual(expected);
      }),
      { numRuns: 5000 },
    );
  });

  it('purchases never earn negative (or fractional) points, whatever the rules', () => {
    fc.assert(
      fc.property(
        arbRulesText,
        arbEvent(fc.constant('purchase'), fc.double({ min: 0, max: 999_999, noNaN: true })),
        arbUser,
        (text, e, u) => {
          const o = parseRules(text).evaluate(e, u);
          expect(o.kind).toBe('applied');
          if (o.kind !== 'applied') return;
          expect(o.delta).toBeGreaterThanOrEqual(0);
          expect(Number.isInteger(o.delta)).toBe(true);
          expect(o.earnedDelta).toBe(o.delta);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refunds never take back more than was earned, summed over any sequence', () => {
    const rules = defaultRuleSet();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }).map((c) => c / 100),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.array(
          fc.integer({ min: 0, max: 5_000_000 }).map((c) => c / 100),
          { maxLength: 12 },
        ),
        (amount, earned, refunds) => {
          const p = purchaseRecord(amount, earned);
          for (const r of refunds) {
            const before = p.pointsRefunded;
            const o = rules.evaluate(
              {
                eventId: 'r',
                eventIdGiven: true,
                userId: 'u',
                type: 'refund',
                amount: r,
                timestamp: '',
                timestampMs: 0,
                utcOffsetMinutes: 0,
              },
              { balance: 0, lifetimeEarned: 0, earnedToday: 0 },
              p,
            );
            if (o.kind !== 'applied') throw new Error('refund rejected');
            expect(o.delta).toBeLessThanOrEqual(0);
            expect(o.earnedDelta).toBe(o.delta);
            p.amountRefunded += r;
            p.pointsRefunded -= o.delta;
            expect(p.pointsRefunded).toBeGreaterThanOrEqual(before);
            expect(p.pointsRefunded).toBeLessThanOrEqual(earned);
          }
          // Once the whole amount is refunded, everything earned has been taken back.
          if (p.amountRefunded >= amount && refunds.length > 0) expect(p.pointsRefunded).toBe(earned);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('rule order is respected: multipliers of matching rules up to the first matching stop', () => {
    const arbRule = fc.record({
      category: fc.constantFrom(undefined, 'x', 'y'),
      multiplier: fc.integer({ min: 0, max: 3 }),
      stop: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(arbRule, { maxLength: 6 }),
        fc.constantFrom(undefined, 'x', 'y'),
        fc.integer({ min: 0, max: 1000 }),
        (list, category, amount) => {
          const text = JSON.stringify({
            version: 1,
            rules: list.map((r) => ({
              ...(r.category !== undefined && { when: { category: r.category } }),
              multiplier: r.multiplier,
              stop: r.stop,
            })),
          });
          const rules: RuleSet = parseRules(text);
          let expected = amount;
          for (const r of list) {
            if (r.category !== undefined && r.category !== category) continue;
            expected *= r.multiplier;
            if (r.stop) break;
          }
          const e: LoyaltyEvent = {
            eventId: 'e',
            eventIdGiven: true,
            userId: 'u',
            type: 'purchase',
            amount,
            timestamp: '',
            timestampMs: 0,
            utcOffsetMinutes: 0,
            ...(category !== undefined && { category }),
          };
          expect(rules.evaluate(e, { balance: 0, lifetimeEarned: 0, earnedToday: 0 })).toEqual({
            kind: 'applied',
            delta: expected,
            earnedDelta: expected,
          });
        },
      ),
      { numRuns: 2000 },
    );
  });
});
