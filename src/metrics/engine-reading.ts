import type { Bucket } from './bucket-quantile.js';
import type { EngineMetrics } from './registry.js';

/** What the engine's own metrics say at one moment: the raw material of the console's figures. */
export interface EngineReading {
  atMs: number;
  /** Cumulative event counts by outcome (applied, rejected, duplicate, dead_lettered), all types summed. */
  eventsByOutcome: Record<string, number>;
  /** The last lag measured per owned partition (high watermark minus the offset committed in Postgres). */
  lagByPartition: Record<string, number>;
  /** Cumulative flush-duration buckets, in seconds. */
  flushBuckets: Bucket[];
  /** Cumulative dead letters by reason since this process started. */
  deadLettersByReason: Record<string, number>;
  rulesVersion: string | null;
}

/** Reads the prom-client metrics in memory (no I/O): cheap enough for every console poll. */
export async function readEngine(m: EngineMetrics, atMs = Date.now()): Promise<EngineReading> {
  const [events, lag, flush, dead, rules] = await Promise.all([
    m.events.get(),
    m.consumerLag.get(),
    m.flushDuration.get(),
    m.deadLetters.get(),
    m.rulesInfo.get(),
  ]);
  const eventsByOutcome: Record<string, number> = {};
  for (const v of events.values) {
    const outcome = String(v.labels.outcome ?? 'unknown');
    eventsByOutcome[outcome] = (eventsByOutcome[outcome] ?? 0) + v.value;
  }
  const lagByPartition: Record<string, number> = {};
  for (const v of lag.values) lagByPartition[String(v.labels.partition)] = v.value;
  const flushBuckets: Bucket[] = [];
  for (const v of flush.values) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const le = v.labels.le;
    flushBuckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: v.value });
  }
  const deadLettersByReason: Record<string, number> = {};
  for (const v of dead.values) deadLettersByReason[String(v.labels.reason)] = v.value;
  const version = rules.values.find((v) => v.value === 1)?.labels.version;
  return {
    atMs,
    eventsByOutcome,
    lagByPartition,
    flushBuckets,
    deadLettersByReason,
    rulesVersion: version === undefined ? null : String(version),
  };
}
