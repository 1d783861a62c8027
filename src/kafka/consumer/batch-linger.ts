/**
 * When a partition's queued messages go to its actor as a task: once the batch is full, or once its oldest
 * message has waited `lingerMs` (Kafka's producer does the same with linger.ms). Without it, under a steady
 * stream every fetch of a few dozen messages became a task: each task's fixed cost (a message to the worker
 * thread and back, the user lookup, the result's metrics) was paid for a handful of events, and the engine
 * spent about as much CPU per second at 10k events/s as at 30k.
 */
export class BatchLinger {
  constructor(readonly lingerMs: number) {}

  /** A batch of `count` events (`full` when it can take no more), its oldest queued at `since` (ms): send it now? */
  ready(count: number, full: boolean, since: number, now: number): boolean {
    if (count <= 0) return false;
    return full || now - since >= this.lingerMs;
  }

  /**
   * How long the fetch loop rests after a fetch of `fetched` messages out of at most `max` (ms). Each call
   * crosses to the Kafka client's thread and back; under a steady stream a few messages a call cost the main
   * thread more than the messages did. A fuller fetch means a backlog: no rest.
   */
  restAfterFetch(fetched: number, max: number): number {
    return fetched < max / 4 ? Math.min(10, this.lingerMs / 2) : 0;
  }

  /** How often queued batches and due flushes are looked at, so neither waits much past its limit (ms). */
  checkEveryMs(flushMaxAgeMs: number): number {
    return Math.max(5, Math.floor(Math.min(flushMaxAgeMs / 2, this.lingerMs > 0 ? this.lingerMs / 2 : Infinity)));
  }
}
