import type { LoyaltyEvent } from '../events/event.js';
import { dayOfWeek, localDayNumber } from './calendar.js';
import { tierIndex, type CompiledRule, type CompiledRules } from './compile.js';
import { floorPoints } from './rounding.js';
import type { EvaluateFn, Outcome, PurchaseRecord, UserState } from './types.js';

// Rejections carry no per-event data: share one frozen object each instead of allocating.
const INSUFFICIENT: Outcome = Object.freeze({ kind: 'rejected', reason: 'insufficient_balance' });
const UNKNOWN_PURCHASE: Outcome = Object.freeze({ kind: 'rejected', reason: 'unknown_purchase' });
const UNSUPPORTED: Outcome = Object.freeze({ kind: 'rejected', reason: 'unsupported_type' });

/**
 * Product of the multipliers of the rules that match, in file order, up to and including the
 * first matching rule with stop. A rule that needs a field the event lacks does not match.
 */
function ruleMultiplier(
  rules: readonly CompiledRule[],
  day: number,
  dow: number,
  category: string | undefined,
  sku: string | undefined,
): number {
  let m = 1;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (((r.dayMask >> dow) & 1) === 0) continue;
    if (day < r.fromDay || day > r.toDay) continue;
    if (r.categories !== null && (category === undefined || !r.categories.has(category))) continue;
    if (r.skus !== null && (sku === undefined || !r.skus.has(sku))) continue;
    m *= r.multiplier;
    if (r.stop) break;
  }
  return m;
}

function tierMultiplier(c: CompiledRules, lifetimeEarned: number): number {
  const i = tierIndex(c, lifetimeEarned);
  return i < 0 ? 1 : c.tierMultipliers[i]!; // below the first tier (or no tiers): no tier bonus
}

/** Whole points a purchase earns: base per item (or the whole amount) x rules x tier, rounded once, then capped. */
export function purchasePoints(c: CompiledRules, e: LoyaltyEvent, user: UserState): number {
  if (e.amount < c.minimumSpend) return 0;
  let day = 0;
  let dow = 0;
  if (c.needsDay) {
    day = localDayNumber(e.timestampMs, e.utcOffsetMinutes);
    dow = dayOfWeek(day);
  }
  const ppu = c.pointsPerUnit;
  let raw: number;
  const items = e.items;
  if (items !== undefined && items.length > 0) {
    raw = 0;
    // Without category/sku rules every item gets the same multiplier: find it once.
    const shared = c.itemSensitive ? -1 : ruleMultiplier(c.rules, day, dow, undefined, undefined);
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      const m = shared >= 0 ? shared : ruleMultiplier(c.rules, day, dow, it.category ?? e.category, it.sku ?? e.sku);
      raw += c.baseRound(it.amount * ppu) * m;
    }
  } else {
    raw = c.baseRound(e.amount * ppu) * ruleMultiplier(c.rules, day, dow, e.category, e.sku);
  }
  let points = c.finalRound(raw * tierMultiplier(c, user.lifetimeEarned));
  if (points > c.capPerEvent) points = c.capPerEvent;
  const room = c.capPerDay - user.earnedToday;
  if (points > room) points = room > 0 ? room : 0;
  return points;
}

/**
 * Points a refund takes back: enough that the purchase's total taken back is its earned points
 * times the refunded share (floored, so rounding favours the customer), never more than earned.
 */
export function refundPoints(e: LoyaltyEvent, p: PurchaseRecord): number {
  const share = p.amount > 0 ? Math.min(1, (p.amountRefunded + e.amount) / p.amount) : 1;
  const target = Math.min(p.pointsEarned, floorPoints(p.pointsEarned * share));
  const back = target - p.pointsRefunded;
  return back > 0 ? back : 0;
}

export function makeEvaluate(c: CompiledRules): EvaluateFn {
  const allowNegative = c.allowNegative;
  return (event, user, purchase) => {
    switch (event.type) {
      case 'purchase': {
        const points = purchasePoints(c, event, user);
        return { kind: 'applied', delta: points, earnedDelta: points };
      }
      case 'redeem':
        if (!allowNegative && user.balance < event.amount) return INSUFFICIENT;
        // 0 - x, not -x: a zero redeem must give +0, which Object.is and deep equality treat as 0.
        return { kind: 'applied', delta: 0 - event.amount, earnedDelta: 0 };
      case 'refund': {
        if (purchase === undefined) return UNKNOWN_PURCHASE;
        // Clawback: a refund always applies in full, even below zero, regardless of allow_negative.
        const back = refundPoints(event, purchase);
        return { kind: 'applied', delta: 0 - back, earnedDelta: 0 - back };
      }
      case 'adjust':
        // Only a debit is checked, so a credit to an account in clawback debt is never refused.
        if (!allowNegative && event.amount < 0 && user.balance + event.amount < 0) return INSUFFICIENT;
        return { kind: 'applied', delta: event.amount + 0, earnedDelta: 0 }; // + 0 turns a -0 into 0
      default:
        return UNSUPPORTED;
    }
  };
}
