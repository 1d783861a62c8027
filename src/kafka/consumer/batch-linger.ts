/**
 * When a partition's queued messages go to its actor as a task: once the batch is full, or once its oldest
 * message has waited `lingerMs` (Kafka's producer does the same with linger.ms). Without it, under a steady
 * stream every fetch of a few dozen messages became a task: each task's fixed cost (a message to the worker
 * thread and back, the user lookup, the result's metrics) was paid for a handful of events, and the engine
 * spent as much CPU at 30k events/s as when draining a backlog at twice that rate.
 */
export class BatchLinger {
  constructor(readonly lingerMs: number) {}

  /** A batch of `count` events (`full` when it can take no more), its oldest queued at `since` (ms): send it now? */
  ready(count: number, full: boolean, since: number, now: number): boolean {
    if (count <= 0) return false;
    return full || now - since >= this.lingerMs;
  }
}
