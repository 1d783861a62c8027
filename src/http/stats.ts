import { bucketDeltas, bucketQuantile } from '../metrics/bucket-quantile.js';
import type { EngineReading } from '../metrics/engine-reading.js';
import type { RecentDeadLetter } from '../store/recent-dead-letters.js';

/** The body of GET /api/stats (documented in openapi.json). */
export interface StatsSnapshot {
  /** When the figures were read (ISO 8601). */
  at: string;
  rules_version: string | null;
  /** Partitions this engine owns right now, ascending. */
  partitions: number[];
  events: {
    /** Cumulative since the engine started, all outcomes. */
    total: number;
    applied: number;
    by_outcome: Record<string, number>;
    /** Over the last sampling interval (about 1 s); null until two readings exist. */
    per_second: number | null;
    applied_per_second: number | null;
  };
  lag: { total: number; by_partition: Record<string, number> };
  /** Flushes in the last `window_seconds` (null: since the engine started, before a second reading) and their latency quantiles, estimated from the histogram's buckets. */
  flush: { window_seconds: number | null; flushes: number; p50_ms: number | null; p99_ms: number | null };
  dead_letters: {
    /** Since the engine started (its counter), by reason. */
    by_reason: Record<string, number>;
    /** The newest few of the owned partitions, from the dead_letters table (refreshed about once a second). */
    latest: RecentDeadLetter[];
    latest_as_of: string | null;
    /** Why the table could not be read last time (the previous `latest` is kept); null when it was. */
    latest_error: string | null;
  };
  /** The last couple of minutes, one point per reading, for the console's charts. */
  history: { t: number[]; applied_per_second: number[]; lag: number[] };
}

export const SAMPLE_INTERVAL_MS = 1000;
export const FLUSH_WINDOW_SECONDS = 30;
export const HISTORY_SECONDS = 120;

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);
const applied = (r: EngineReading): number => r.eventsByOutcome.applied ?? 0;
const rate = (a: number, b: number, ms: number): number => (ms > 0 ? Math.max(0, ((b - a) * 1000) / ms) : 0);
const ms = (seconds: number | null): number | null => (seconds === null ? null : Math.round(seconds * 1e6) / 1e3);

/**
 * The readings behind the console: one kept per sampling interval (readings taken more often, by several
 * open pages, do not add points), the last HISTORY_SECONDS of them. Rates and the flush latency window are
 * differences between kept readings, so they do not depend on who polls or how often.
 */
export class StatsHistory {
  private readonly readings: EngineReading[] = [];

  /** Keeps `r` when the last kept reading is at least ~one interval old; returns whether it was kept. */
  add(r: EngineReading): boolean {
    const last = this.readings[this.readings.length - 1];
    // A little slack, so a page polling every 1000 ms adds a point each time despite timer jitter.
    if (last !== undefined && r.atMs - last.atMs < SAMPLE_INTERVAL_MS * 0.9) return false;
    this.readings.push(r);
    while (this.readings.length > 2 && this.readings[0]!.atMs < r.atMs - HISTORY_SECONDS * 1000) this.readings.shift();
    return true;
  }

  get size(): number {
    return this.readings.length;
  }

  /** The figures of the newest reading. Throws when there is none (add one first). */
  snapshot(
    partitions: number[],
    deadLetters: { latest: RecentDeadLetter[]; asOfMs: number | null; error: string | null },
  ): StatsSnapshot {
    const n = this.readings.length;
    const now = this.readings[n - 1];
    if (now === undefined) throw new Error('no reading yet');
    const prev = n > 1 ? this.readings[n - 2]! : undefined;
    // The window starts at the newest reading at least FLUSH_WINDOW_SECONDS old (the oldest while the history is shorter).
    let from = this.readings[0]!;
    for (const r of this.readings) if (r.atMs <= now.atMs - FLUSH_WINDOW_SECONDS * 1000) from = r;
    const window = from === now ? now.flushBuckets : bucketDeltas(now.flushBuckets, from.flushBuckets);
    const flushes = window.reduce((m, b) => Math.max(m, b.count), 0);
    const total = sum(now.eventsByOutcome);
    const history: StatsSnapshot['history'] = { t: [], applied_per_second: [], lag: [] };
    for (let i = 1; i < n; i++) {
      const a = this.readings[i - 1]!;
      const b = this.readings[i]!;
      history.t.push(Math.round(b.atMs / 100) / 10);
      history.applied_per_second.push(Math.round(rate(applied(a), applied(b), b.atMs - a.atMs)));
      history.lag.push(sum(b.lagByPartition));
    }
    return {
      at: new Date(now.atMs).toISOString(),
      rules_version: now.rulesVersion,
      partitions,
      events: {
        total,
        applied: applied(now),
        by_outcome: now.eventsByOutcome,
        per_second: prev ? Math.round(rate(sum(prev.eventsByOutcome), total, now.atMs - prev.atMs)) : null,
        applied_per_second: prev ? Math.round(rate(applied(prev), applied(now), now.atMs - prev.atMs)) : null,
      },
      lag: { total: sum(now.lagByPartition), by_partition: now.lagByPartition },
      flush: {
        window_seconds: from === now ? null : Math.round((now.atMs - from.atMs) / 1000),
        flushes,
        p50_ms: ms(bucketQuantile(0.5, window)),
        p99_ms: ms(bucketQuantile(0.99, window)),
      },
      dead_letters: {
        by_reason: now.deadLettersByReason,
        latest: deadLetters.latest,
        latest_as_of: deadLetters.asOfMs === null ? null : new Date(deadLetters.asOfMs).toISOString(),
        latest_error: deadLetters.error,
      },
      history,
    };
  }
}
