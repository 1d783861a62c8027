/**
 * When a chunk that arrives at `now` may leave a delaying relay: after `delayMs` +/- `jitterMs`,
 * never before the chunk ahead of it (a TCP stream keeps its order; netem with jitter would
 * reorder packets, which TCP then undoes anyway).
 */
export function releaseAt(
  previousRelease: number,
  now: number,
  delayMs: number,
  jitterMs: number,
  random: () => number,
): number {
  const jitter = (random() * 2 - 1) * jitterMs;
  return Math.max(previousRelease, now + Math.max(0, delayMs + jitter));
}

/**
 * Chunks held for their release times, handed out strictly in arrival order. One queue and one
 * timer, not a timer per chunk: two Node timers due at the same moment can fire in either order
 * (each counts from the event loop's cached time, which lags Date.now() by different amounts), and
 * a relay that let them would reorder a TCP stream's bytes, something no network does.
 */
export class DelayLine<T> {
  private readonly queue: { item: T; at: number }[] = [];
  private last = 0;

  get size(): number {
    return this.queue.length;
  }

  /** Holds `item`, which arrives at `now`, for `delayMs` +/- `jitterMs` (never past the one before it). */
  push(item: T, now: number, delayMs: number, jitterMs: number, random: () => number): void {
    this.last = releaseAt(this.last, now, delayMs, jitterMs, random);
    this.queue.push({ item, at: this.last });
  }

  /** The items due by `now`, oldest first; those behind a later one stay. */
  takeDue(now: number): T[] {
    let n = 0;
    while (n < this.queue.length && this.queue[n]!.at <= now) n++;
    return this.queue.splice(0, n).map((x) => x.item);
  }

  /** When the oldest held item is due, or undefined when none is held. */
  nextAt(): number | undefined {
    return this.queue[0]?.at;
  }
}
