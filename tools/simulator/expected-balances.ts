import type { SimulatedMessage } from './generator.js';

/** A user whose balance differs from the replay (undefined: no balance on that side). */
export interface Mismatch {
  userId: string;
  expected: number | undefined;
  actual: number | undefined;
}

/**
 * An independent, single-threaded replay of the default rules (the seed's, plus refunds
 * and repeated event ids) over a message stream in
 * production order (a user's events share a partition, so this is partition order for
 * each user). Deliberately shares no code with the engine's evaluator.
 */
export class ExpectedBalances {
  readonly balances = new Map<string, number>();
  applied = 0;
  rejected = 0;
  duplicates = 0;
  bad = 0;
  /** Given event ids seen (applied or rejected) per user, with their times. */
  private readonly seen = new Map<string, number[]>();
  private readonly purchases = new Map<
    string,
    { amount: number; earned: number; amountRefunded: number; pointsRefunded: number }
  >();

  constructor(private readonly windowMs = 7 * 86_400_000) {}

  add(m: SimulatedMessage): void {
    if (m.bad || !m.event) {
      this.bad++;
      return;
    }
    const e = m.event;
    const at = Date.parse(e.timestamp);
    const key = e.eventId === undefined ? null : `${e.userId}/${e.eventId}`;
    if (key !== null && (this.seen.get(key) ?? []).some((t) => Math.abs(t - at) <= this.windowMs)) {
      this.duplicates++;
      return;
    }
    const balance = this.balances.get(e.userId) ?? 0;
    if (e.type === 'purchase') {
      const earned = Math.floor(e.amount) * (isLocalWeekend(e.timestamp) ? 2 : 1);
      this.balances.set(e.userId, balance + earned);
      if (key !== null) this.purchases.set(key, { amount: e.amount, earned, amountRefunded: 0, pointsRefunded: 0 });
      this.applied++;
    } else if (e.type === 'refund') {
      const p = this.purchases.get(`${e.userId}/${e.originalEventId ?? ''}`);
      if (p === undefined) {
        this.bad++; // a refund of an unknown purchase is a dead letter
        return;
      }
      // Take back the refunded share of what the purchase earned, never more in total.
      const share = p.amount > 0 ? Math.min(1, (p.amountRefunded + e.amount) / p.amount) : 1;
      const target = Math.min(p.earned, Math.floor(p.earned * share + 1e-9));
      const back = Math.max(0, target - p.pointsRefunded);
      p.amountRefunded += e.amount;
      p.pointsRefunded += back;
      this.balances.set(e.userId, balance - back);
      this.applied++;
    } else if (balance >= e.amount) {
      this.balances.set(e.userId, balance - e.amount);
      this.applied++;
    } else {
      this.balances.set(e.userId, balance);
      this.rejected++;
    }
    if (key !== null) this.seen.set(key, [...(this.seen.get(key) ?? []), at]);
  }

  /** Every user's balance against the replay; the differences (empty when exact). */
  differences(actual: ReadonlyMap<string, number>): Mismatch[] {
    const out: Mismatch[] = [];
    for (const [userId, points] of this.balances) {
      if (actual.get(userId) !== points) out.push({ userId, expected: points, actual: actual.get(userId) });
    }
    for (const [userId, points] of actual) {
      if (!this.balances.has(userId)) out.push({ userId, expected: undefined, actual: points });
    }
    return out;
  }
}

/** The weekday of the timestamp's own calendar date, read straight from its text. */
export function isLocalWeekend(timestamp: string): boolean {
  const day = new Date(`${timestamp.slice(0, 10)}T00:00:00Z`).getUTCDay();
  return day === 0 || day === 6;
}
