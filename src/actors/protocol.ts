import type { PackedBatch } from './batch-codec.js';
import type { EventCounts } from './task-tally.js';

/**
 * The one channel between the consumer (main thread) and partition actors (worker threads).
 * Every task names its partition and the epoch the main thread gave the actor when it
 * opened it; a task for another epoch is refused, so nothing from before a reset is applied.
 */
export interface ActorAddress {
  topic: string;
  partition: number;
  epoch: number;
  /** Present when the rules changed since this partition's last task: validated YAML and its version. */
  rules?: { version: string; text: string };
}

export type ActorTask =
  /** `earliest`: the partition's low watermark as read before the open (0: unknown); see openPartition. */
  | ({ op: 'open'; earliest: number } & ActorAddress)
  /** `flush`: commit after applying the batch (the main thread's flush policy decided). */
  | ({ op: 'process'; batch: PackedBatch; flush: boolean } & ActorAddress)
  | ({ op: 'flush' } & ActorAddress)
  | ({ op: 'close'; flush: boolean } & ActorAddress);

export interface FlushStats {
  seconds: number;
  events: number;
  users: number;
}

export interface ActorResult {
  /** ok; fenced: another owner advanced the stored offset (state was dropped, reopen at storedOffset); unknown: no actor with that epoch here. */
  status: 'ok' | 'fenced' | 'unknown';
  /** Offset of the next message the actor expects. */
  nextOffset: number;
  /** Offset stored in Postgres as of the last successful flush (or open). */
  committedOffset: number;
  /** Events applied in memory but not yet committed. */
  pending: number;
  /** Events by type, then outcome. */
  events: EventCounts;
  /** Dead letters by reason. */
  deadLetters: Record<string, number>;
  /** The task's flush, if it committed one. */
  flush: FlushStats | null;
  /** Under a `lifecycle:` block only. */
  lifecycle?: LifecycleStats;
  recentIds: RecentIdsStats;
}

export interface RecentIdsStats {
  /** Memory held by busy users' summaries (past what a balance row holds), against RECENT_IDS_BUSY_MB. */
  busyBytes: number;
  /** Users whose summary was given up since the last task (their duplicate checks now read the ledger), by reason. */
  givenUp: Record<string, number>;
}

export interface LifecycleStats {
  /** The partition's clock (ms since the epoch); null before its first event. */
  clock: number | null;
  /** The partition's open lots, as of its last commit. */
  openLots: number;
  /** Due lots may still wait in Postgres (the last flush's bounded SQL expiry reached its bound): flush again soon. */
  expiryBacklog: boolean;
  /** Points expired and points released by this task's commit. */
  expiredPoints: number;
  releasedPoints: number;
}
