/**
 * A partition's life on this engine. Like Kafka Streams' Task.State, every move is checked:
 * an illegal one is a bug that fails loudly, not a flag that later code has to re-check.
 *
 *   assigning -> running <-> fenced
 *        \          |         /
 *         +----> revoking <--+
 *                   |
 *                 closed
 */
export type PartitionPhase =
  /** Opening the actor and seeking Kafka to the offset Postgres holds. Fetched messages are dropped. */
  | 'assigning'
  /** Messages are queued and dispatched to the actor. */
  | 'running'
  /** The actor lost its position (another owner wrote, a task failed, its thread died): reopening from Postgres. */
  | 'fenced'
  /** Given up by a rebalance or shutdown: the last task finishes, then the actor closes (committing, unless the assignment was lost). */
  | 'revoking'
  | 'closed';

const LEGAL: Readonly<Record<PartitionPhase, readonly PartitionPhase[]>> = {
  assigning: ['running', 'revoking'],
  running: ['fenced', 'revoking'],
  fenced: ['running', 'revoking'],
  revoking: ['closed'],
  closed: [],
};

export class IllegalTransitionError extends Error {}

export class PartitionLifecycle {
  private current: PartitionPhase = 'assigning';

  constructor(readonly partition: number) {}

  get phase(): PartitionPhase {
    return this.current;
  }

  is(phase: PartitionPhase): boolean {
    return this.current === phase;
  }

  to(next: PartitionPhase): void {
    if (!LEGAL[this.current].includes(next))
      throw new IllegalTransitionError(`partition ${this.partition}: ${this.current} -> ${next} is not a legal move`);
    this.current = next;
  }
}
