import type { ActorResult } from '../../actors/protocol.js';
import type { EngineMetrics } from '../../metrics/registry.js';

/** Adds one actor result to the metrics; returns how many dead letters it carried and whether it flushed. */
export function recordResult(metrics: EngineMetrics, r: ActorResult): { deadLetters: number; flushed: boolean } {
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
  return { deadLetters, flushed: r.flush !== null };
}
