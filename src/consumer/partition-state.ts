import type { BatchBuilder } from '../actors/batch-codec.js';

/** The main thread's view of one assigned partition and its actor. */
export interface PartitionState {
  partition: number;
  /** Bumped whenever the actor is (re)opened; tasks for an older epoch are refused by the worker. */
  epoch: number;
  /** opening/seeking: messages are dropped (they will be fetched again from the stored offset). */
  status: 'opening' | 'active' | 'seeking' | 'closing';
  /** Fetched messages waiting for the actor, packed, one builder per future task. */
  queue: BatchBuilder[];
  inFlight: boolean;
  /** Events in the in-flight task. */
  inFlightCount: number;
  /** Unflushed events in the actor, as of its last result. */
  pending: number;
  /** When pending last went from 0 to more (ms), for age-based flushes. */
  pendingSince: number;
  flushRequested: boolean;
  committedOffset: number;
  /** Messages below this offset are already queued or applied: dropped. */
  acceptFrom: number;
  paused: boolean;
  /** Rules version last sent with a task of this partition. */
  rulesVersion: string;
  /** Resolvers waiting for the in-flight task to finish. */
  idleWaiters: (() => void)[];
}

export function newPartitionState(partition: number, epoch: number): PartitionState {
  return {
    partition,
    epoch,
    status: 'opening',
    queue: [],
    inFlight: false,
    inFlightCount: 0,
    pending: 0,
    pendingSince: 0,
    flushRequested: false,
    committedOffset: -1,
    acceptFrom: 0,
    paused: false,
    rulesVersion: '',
    idleWaiters: [],
  };
}

/** Events fetched for this partition that its actor has not applied yet. */
export function queued(ps: PartitionState): number {
  // A few builders at most (MAX_QUEUED_EVENTS / MAX_BATCH_EVENTS): summing beats keeping a count in step.
  let n = ps.inFlightCount;
  for (const b of ps.queue) n += b.count;
  return n;
}

/** Events held for this partition that Postgres does not have yet. */
export function unflushed(ps: PartitionState): number {
  return queued(ps) + ps.pending;
}
