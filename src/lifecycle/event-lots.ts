import type { EventType } from '../events/event.js';
import type { ExpiryRows } from './expiry-rows.js';
import type { LotBook } from './lot-book.js';
import { adjustExpiresAt, expiresAt, purchaseAvailableAt, type LifecycleSettings } from './lot-times.js';

/**
 * Carries an applied event into its user's lots. `delta` is the rules' outcome (the signed points
 * the event applied); the book must be settled at `clock` first. `purchaseMs` is the time of the
 * purchase a refund names, `expiresAtMs` an adjust's own `expires_at`. Points of a late event's
 * lot that is already expired at the clock go to `late`: rows of their own, after the event's.
 */
export function applyToLots(
  book: LotBook,
  s: LifecycleSettings,
  type: EventType,
  eventMs: number,
  delta: number,
  clock: number,
  purchaseMs: number | undefined,
  expiresAtMs: number | undefined,
  late: ExpiryRows,
): void {
  if (delta === 0) return;
  switch (type) {
    case 'purchase': {
      const e = expiresAt(s, eventMs);
      const expired = book.credit(delta, purchaseAvailableAt(s, eventMs), e, clock);
      if (expired > 0) late.add(e, expired);
      return;
    }
    case 'adjust': {
      if (delta < 0) {
        book.debit(-delta, clock);
        return;
      }
      // An adjust is never pending: its lot is available from the adjust's own time.
      const e = adjustExpiresAt(s, eventMs, expiresAtMs);
      const expired = book.credit(delta, eventMs, e, clock);
      if (expired > 0) late.add(e, expired);
      return;
    }
    case 'refund':
      if (purchaseMs === undefined) book.debit(-delta, clock);
      else book.refund(-delta, purchaseAvailableAt(s, purchaseMs), expiresAt(s, purchaseMs), clock);
      return;
    case 'redeem':
      book.debit(-delta, clock);
      return;
  }
}
