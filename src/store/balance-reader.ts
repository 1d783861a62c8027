import type pg from 'pg';

export interface StoredBalance {
  points: number;
  lifetimeEarned: number;
  /** ISO 8601 in UTC, formatted by Postgres (cheaper than a Date per row here). */
  updatedAt: string;
  lastPartition: number;
  lastOffset: number;
}

interface Waiter {
  resolve: (b: StoredBalance | undefined) => void;
  reject: (e: unknown) => void;
}

/** user_id, points, lifetime_earned, updated_at (ISO 8601 text), last_partition, last_offset. */
type BalanceRow = [string, string, string, string, number, string];

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
    try {
      const r = await this.pool.query<BalanceRow>({
        // Named: parsed and planned once per connection. Arrays, not objects, per row.
        name: 'balances_by_user_ids',
        text: `SELECT user_id, points, lifetime_earned, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), last_partition, last_offset
               FROM balances WHERE user_id = ANY($1::text[])`,
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
      found.set(row[0], {
        points: Number(row[1]),
        lifetimeEarned: Number(row[2]),
        updatedAt: row[3],
        lastPartition: row[4],
        lastOffset: Number(row[5]),
      });
    }
    for (const [id, ws] of batch) {
      const b = found.get(id);
      for (const w of ws) w.resolve(b);
    }
  }
}
