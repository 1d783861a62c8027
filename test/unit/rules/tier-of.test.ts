import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultRuleSet, parseRules } from '../../../src/rules/index.js';

const yaml = `version: 1
tiers:
  - { name: bronze, min_lifetime_points: 100, multiplier: 1 }
  - { name: silver, min_lifetime_points: 10000, multiplier: 1.25 }
  - { name: gold, min_lifetime_points: 50000, multiplier: 1.5 }
max_amount: 250
`;

describe('RuleSet.tierOf and maxAmount (the API and the evaluator share them)', () => {
  it('names the highest tier reached, null below the first', () => {
    const r = parseRules(yaml);
    expect([0, 99, 100, 9999, 10000, 49999, 50000, 1e12].map(r.tierOf)).toEqual([
      null,
      null,
      'bronze',
      'bronze',
      'silver',
      'silver',
      'gold',
      'gold',
    ]);
    expect(r.maxAmount).toBe(250);
  });

  it('a tier is monotonic in lifetime points (property)', () => {
    const r = parseRules(yaml);
    const rank = (t: string | null): number => [null, 'bronze', 'silver', 'gold'].indexOf(t);
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (a, b) => rank(r.tierOf(Math.min(a, b))) <= rank(r.tierOf(Math.max(a, b)))),
    );
  });

  it('the built-in rules: everyone is "base", amounts below 1,000,000', () => {
    const r = defaultRuleSet();
    expect(r.tierOf(0)).toBe('base');
    expect(r.maxAmount).toBe(1_000_000);
  });

  it('a file without tiers gives null', () => {
    expect(parseRules('version: 1\n').tierOf(1_000_000)).toBeNull();
  });
});
