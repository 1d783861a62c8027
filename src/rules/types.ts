import type { LoyaltyEvent } from '../events/event.js';

/** What the evaluator needs to know about a user before an event. */
export interface UserState {
  /** Current spendable points. */
  balance: number;
  /** Points ever earned (never reduced by redeems); drives tiers. */
  lifetimeEarned: number;
  /** Points earned so far on the event's local calendar day (for per-day caps); 0 if unknown. */
  earnedToday: number;
}

/** What the evaluator needs to know about the purchase a refund names. */
export interface PurchaseRecord {
  eventId: string;
  /** The purchase's currency amount. */
  amount: number;
  /** Points the purchase earned. */
  pointsEarned: number;
  /** Points already taken back by earlier refunds of it. */
  pointsRefunded: number;
  /** Currency amount already refunded. */
  amountRefunded: number;
}

export type Outcome =
  | {
      kind: 'applied';
      /** Signed change of the balance. */
      delta: number;
      /** Change of lifetime earned points (>= 0 for purchases, negative for refunds, 0 otherwise). */
      earnedDelta: number;
    }
  | {
      kind: 'rejected';
      /** Stable machine-readable reason, e.g. "insufficient_balance". */
      reason: string;
    };

export type EvaluateFn = (event: LoyaltyEvent, user: UserState, purchase?: PurchaseRecord) => Outcome;
