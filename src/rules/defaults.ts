import type { RulesInput } from './schema.js';

/**
 * The built-in rules: the seed's behaviour (floor(amount) points, doubled on the local
 * Saturday/Sunday; redeem needs the balance). config/rules.yaml ships exactly this, and a
 * unit test holds the two equal.
 */
export const DEFAULT_RULES: RulesInput = {
  version: 1,
  earn: {
    points_per_unit: 1,
    base_rounding: 'floor',
    rounding: 'floor',
    minimum_spend: 0,
    cap_per_event: null,
    cap_per_user_per_day: null,
  },
  rules: [{ name: 'weekend-double', when: { days_of_week: ['sat', 'sun'] }, multiplier: 2, stop: false }],
  tiers: [{ name: 'base', min_lifetime_points: 0, multiplier: 1 }],
  allow_negative: false,
  idempotency_window: '7d',
  refund_window: '90d',
  max_amount: 1_000_000,
};
