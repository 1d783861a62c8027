import type { SimulatedMessage } from './generator.js';

/**
 * An independent, single-threaded replay of the seed's rules over a message stream in
 * production order (a user's events share a partition, so this is partition order for
 * each user). Deliberately shares no code with the engine's evaluator.
 */
export class ExpectedBalances {
  readonly balances = new Map<string, number>();
  applied = 0;
  rejected = 0;
  bad = 0;

  add(m: SimulatedMessage): void {
    if (m.bad || !m.event) {
      this.bad++;
      return;
    }
    const e = m.event;
    const balance = this.balances.get(e.userId) ?? 0;
    if (e.type === 'purchase') {
      this.balances.set(e.userId, balance + Math.floor(e.amount) * (isLocalWeekend(e.timestamp) ? 2 : 1));
      this.applied++;
    } else if (balance >= e.amount) {
      this.balances.set(e.userId, balance - e.amount);
      this.applied++;
    } else {
      this.balances.set(e.userId, balance);
      this.rejected++;
    }
  }
}

/** The weekday of the timestamp's own calendar date, read straight from its text. */
export function isLocalWeekend(timestamp: string): boolean {
  const day = new Date(`${timestamp.slice(0, 10)}T00:00:00Z`).getUTCDay();
  return day === 0 || day === 6;
}
