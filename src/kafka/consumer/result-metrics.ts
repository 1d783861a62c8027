import type { ActorResult } from '../../actors/protocol.js';
import type { EngineMetrics } from '../../metrics/registry.js';

/** Adds one actor result to the metrics; returns how many dead letters it carried and whether it flushed. */
export function recordResult(
  metrics: EngineMetrics,
  r: ActorResult,
  partition?: number,
): { deadLetters: number; flushed: boolean } {
  for (const [type, byOutcome] of Object.entries(r.events)) {
    for (const [outcome, n] of Object.entries(byOutcome)) metrics.events.inc({ type, outcome }, n);
  }
  let deadLetters = 0;
  for (const [reason, n] of Object.entries(r.deadLetters)) {
    metrics.deadLetters.inc({ reason }, n);
    deadLetters += n;
  }
  if (r.flush !== null) {
    metrics.flushDuration.observe(r.flush.seconds);
    metrics.flushBatch.observe(r.flush.events);
  }
  for (const [reason, n] of Object.entries(r.recentIds.givenUp)) metrics.recentIdsGivenUp.inc({ reason }, n);
  const lc = r.lifecycle;
  if (lc !== undefined) {
    metrics.pointsExpired.inc(lc.expiredPoints);
    metrics.pointsReleased.inc(lc.releasedPoints);
  }
  // Gauges only for a partition still owned (a closing one's are removed).
  if (partition !== undefined) metrics.recentIdsBusyBytes.set({ partition: String(partition) }, r.recentIds.busyBytes);
  if (lc !== undefined && partition !== undefined) {
    metrics.openLots.set({ partition: String(partition) }, lc.openLots);
    if (lc.clock !== null) metrics.partitionClocks.set(String(partition), lc.clock);
  }
  return { deadLetters, flushed: r.flush !== null };
}
