/**
 * The one place that decides when a partition commits: once enough events are pending, or once the
 * oldest pending event is old enough. The actor never decides; it flushes when a task says so.
 */
export class FlushPolicy {
  constructor(
    readonly maxEvents: number,
    readonly maxAgeMs: number,
  ) {}

  /** `pending` events unflushed since `since` (ms; 0 = none pending): must they be committed now? */
  due(pending: number, since: number, now: number): boolean {
    if (pending <= 0) return false;
    return pending >= this.maxEvents || (since > 0 && now - since >= this.maxAgeMs);
  }
}
