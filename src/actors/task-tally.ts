import type { FlushStats, RecentIdsStats } from './protocol.js';

/** Events by type, then outcome: what one task applied, for the main thread's metrics. */
export type EventCounts = Record<string, Record<string, number>>;

/** What one actor task did, counted as it goes and handed back whole with the task's result. */
export class TaskTally {
  events: EventCounts = {};
  /** Dead letters by reason. */
  deadLetters: Record<string, number> = {};
  /** The task's flush, if it committed one. */
  flush: FlushStats | null = null;
  /** Points lifecycle: points expired (ledger `expire` rows written) and released (became spendable), committed by this task's flush. */
  expiredPoints = 0;
  releasedPoints = 0;
  /** The recent-ids summary as the task leaves it (set by the actor when it hands the tally over). */
  recentIds: RecentIdsStats = { busyBytes: 0, givenUp: {} };

  event(type: string, outcome: string): void {
    const byOutcome = (this.events[type] ??= {});
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
  }

  deadLetter(reason: string): void {
    this.deadLetters[reason] = (this.deadLetters[reason] ?? 0) + 1;
  }
}
