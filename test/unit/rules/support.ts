import { parseTimestamp } from '../../../src/events/decode.js';
import type { EventType, LineItem, LoyaltyEvent } from '../../../src/events/event.js';
import { parseRules, type RuleSet } from '../../../src/rules/index.js';
import type { PurchaseRecord, UserState } from '../../../src/rules/types.js';

/** A decoded event, with the timestamp parsed the way the decoder does it. */
export function ev(
  type: EventType,
  amount: number,
  timestamp = '2026-11-25T10:00:00Z', // a Wednesday
  extra: { category?: string; sku?: string; items?: LineItem[] } = {},
): LoyaltyEvent {
  const ts = parseTimestamp(timestamp);
  if (ts === null) throw new Error(`bad test timestamp ${timestamp}`);
  return {
    eventId: 'e1',
    eventIdGiven: true,
    userId: 'u1',
    type,
    amount,
    timestamp,
    timestampMs: ts.ms,
    utcOffsetMinutes: ts.offsetMinutes,
    ...extra,
  };
}

export const user = (balance = 0, lifetimeEarned = 0, earnedToday = 0): UserState => ({
  balance,
  lifetimeEarned,
  earnedToday,
});

export const purchaseRecord = (
  amount: number,
  pointsEarned: number,
  amountRefunded = 0,
  pointsRefunded = 0,
): PurchaseRecord => ({
  eventId: 'p1',
  amount,
  pointsEarned,
  amountRefunded,
  pointsRefunded,
});

/** A rules file from a YAML body (everything after `version: 1`). */
export const rulesFrom = (body: string): RuleSet => parseRules(`version: 1\n${body}`);

/** Points a purchase earns under `rules` (asserting it was applied and earned what it added). */
export function points(rules: RuleSet, e: LoyaltyEvent, u: UserState = user()): number {
  const o = rules.evaluate(e, u);
  if (o.kind !== 'applied') throw new Error(`purchase rejected: ${o.reason}`);
  if (o.earnedDelta !== o.delta) throw new Error(`earnedDelta ${o.earnedDelta} != delta ${o.delta}`);
  return o.delta;
}
