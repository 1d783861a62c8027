import type pg from 'pg';

export interface StoredBalance {
  /** Under a `lifecycle:` block: less the points of lots due at the partition's clock whose expiry is not written yet. */
  points: number;
  lifetimeEarned: number;
  /** ISO 8601 in UTC, formatted by Postgres (cheaper than a Date per row here). */
  updatedAt: string;
  lastPartition: number;
  lastOffset: number;
  /** Only when read under a `lifecycle:` block. */
  lifecycle?: StoredLifecycle;
}

/** A user's lots summed at its partition's clock (config/rules.schema.md, "Points lifecycle"). */
export interface StoredLifecycle {
  /** Points of lots not yet available at the clock; `points` less these is what the user may spend. */
  pendingPoints: number;
  /** The earliest expiry of a lot and the points expiring then; null when no lot will expire. */
  nextExpiry: { points: number; at: string } | null;
}

interface Waiter {
  resolve: (b: StoredBalance | undefined) => void;
  reject: (e: unknown) => void;
}

/** user_id, points, lifetime_earned, updated_at (ISO 8601 text), last_partition, last_offset; with lots: pending, next expiry (ISO text), its points. */
type BalanceRow = [string, string, string, string, number, string, string?, (string | null)?, (string | null)?];

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const BALANCES_SQL = `SELECT user_id, points, lifetime_earned, to_char(updated_at AT TIME ZONE 'UTC', ${ISO}), last_partition, last_offset
               FROM balances WHERE user_id = ANY($1::text[])`;
// Lots are judged at the clock of the user's partition (a database serves one events topic, so the
// partition number names it). A lot due at the stored clock is expired even while it waits in
// point_lots for its expire row (the flush's SQL expiry is bounded, docs/lifecycle.md): its points are
// taken off the balance here, and it counts as neither pending nor next to expire.
const LIFECYCLE_SQL = `SELECT b.user_id, b.points - COALESCE(l.due, 0), b.lifetime_earned, to_char(b.updated_at AT TIME ZONE 'UTC', ${ISO}),
                 b.last_partition, b.last_offset,
                 COALESCE(l.pending, 0), to_char(l.next_at AT TIME ZONE 'UTC', ${ISO}),
                 (SELECT sum(remaining) FROM point_lots n WHERE n.user_id = b.user_id AND n.expires_at = l.next_at)
               FROM balances b
               LEFT JOIN LATERAL (
                 SELECT sum(p.remaining) FILTER (WHERE p.expires_at <= c.clock) AS due,
                        sum(p.remaining) FILTER (WHERE (p.available_at > c.clock AND p.expires_at > c.clock) OR c.clock IS NULL) AS pending,
                        min(p.expires_at) FILTER (WHERE isfinite(p.expires_at) AND (p.expires_at > c.clock OR c.clock IS NULL)) AS next_at
                 FROM point_lots p,
                      LATERAL (SELECT max(o.clock) AS clock FROM consumer_offsets o WHERE o.partition = b.last_partition) c
                 WHERE p.user_id = b.user_id
               ) l ON true
               WHERE b.user_id = ANY($1::text[])`;

/**
 * Reads balances for the API, coalescing concurrent requests: while `maxInFlight` queries are
 * running, new lookups wait and go out together in the next one (`user_id = ANY($1)`). Under low
 * load every lookup is its own query at once; under load one round trip and one plan serve many
 * requests, which is where Postgres spent its time. Every query starts after the requests it
 * answers arrived, so a read still sees every flush committed before it was asked.
 */
export class BalanceReader {
  private waiting = new Map<string, Waiter[]>();
  private inFlight = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly maxInFlight: number,
    /** Upper bound on ids per query; the rest wait for the next one. */
    private readonly maxBatch = 256,
    /** True while the rules in force have a `lifecycle:` block: balances are then read with their lots. */
    private readonly lifecycle: () => boolean = () => false,
  ) {}

  read(userId: string): Promise<StoredBalance | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(userId);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(userId, [{ resolve, reject }]);
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.size > 0) {
      let batch: Map<string, Waiter[]>;
      if (this.waiting.size <= this.maxBatch) {
        batch = this.waiting;
        this.waiting = new Map();
      } else {
        batch = new Map();
        for (const [id, w] of this.waiting) {
          if (batch.size === this.maxBatch) break;
          batch.set(id, w);
          this.waiting.delete(id);
        }
      }
      this.inFlight++;
      void this.query(batch).finally(() => {
        this.inFlight--;
        this.dispatch();
      });
    }
  }

  private async query(batch: Map<string, Waiter[]>): Promise<void> {
    let rows: BalanceRow[];
    const withLots = this.lifecycle();
    try {
      const r = await this.pool.query<BalanceRow>({
        // Named: parsed and planned once per connection. Arrays, not objects, per row.
        name: withLots ? 'balances_with_lots_by_user_ids' : 'balances_by_user_ids',
        text: withLots ? LIFECYCLE_SQL : BALANCES_SQL,
        values: [[...batch.keys()]],
        rowMode: 'array',
      });
      rows = r.rows;
    } catch (e) {
      for (const ws of batch.values()) for (const w of ws) w.reject(e);
      return;
    }
    const found = new Map<string, StoredBalance>();
    for (const row of rows) {
      const b: StoredBalance = {
        points: Number(row[1]),
        lifetimeEarned: Number(row[2]),
        updatedAt: row[3],
        lastPartition: row[4],
        lastOffset: Number(row[5]),
      };
      if (withLots) {
        const at = row[7] ?? null;
        b.lifecycle = {
          pendingPoints: Number(row[6] ?? 0),
          nextExpiry: at === null ? null : { points: Number(row[8] ?? 0), at },
        };
      }
      found.set(row[0], b);
    }
    for (const [id, ws] of batch) {
      const b = found.get(id);
      for (const w of ws) w.resolve(b);
    }
  }
}
