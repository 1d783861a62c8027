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
