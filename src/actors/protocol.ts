import type { PackedBatch } from './batch-codec.js';

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
  | ({ op: 'open' } & ActorAddress)
  | ({ op: 'process'; batch: PackedBatch } & ActorAddress)
  | ({ op: 'flush' } & ActorAddress)
  | ({ op: 'close'; flush: boolean } & ActorAddress);

/** Counts keyed "type:outcome" (events) or reason (dead letters), for the main thread's metrics. */
export type Counts = Record<string, number>;

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
  events: Counts;
  deadLetters: Counts;
  flushes: FlushStats[];
}
