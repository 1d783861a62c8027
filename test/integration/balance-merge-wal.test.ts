import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStagingTable, MERGE_SQL } from '../../src/store/flush.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

/** 4-byte summary entries 0..n-1 (the merge treats them as opaque bytes). */
const entries = (from: number, n: number): Buffer => {
  const b = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) b.writeInt32BE(from + i, i * 4);
  return b;
};

describe("the balance merge's WAL", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await migratedDatabase();
  });
  afterAll(async () => db.drop());

  it("logs a flush's new summary entries, not the user's whole stored summary", async () => {
    const c = await db.pool.connect();
    try {
      await ensureStagingTable(c);
      // One flush of the user: stage its delta and new entries, merge (measured with EXPLAIN ANALYZE's WAL counts).
      const flush = async (ids: Buffer, measure = false): Promise<number> => {
        await c.query('BEGIN');
        await c.query(
          `INSERT INTO staging_deltas (user_id, points, earned, earned_day, earned_today, last_offset, recent_from, recent_ids)
           VALUES ('busy', 5, 5, 20000, 5, 1, 20000, $1)`,
          [ids],
        );
        let walBytes = 0;
        if (measure) {
          const r = await c.query<{ 'QUERY PLAN': [{ Plan: { 'WAL Bytes': number; 'WAL FPI': number } }] }>(
            `EXPLAIN (ANALYZE, WAL, FORMAT JSON) ${MERGE_SQL}`,
            [0],
          );
          const plan = r.rows[0]!['QUERY PLAN'][0].Plan;
          expect(plan['WAL FPI']).toBe(0); // a full-page image (a checkpoint just passed) would hide the measure
          walBytes = plan['WAL Bytes'];
        } else {
          await c.query(MERGE_SQL, [0]);
        }
        await c.query('COMMIT');
        return walBytes;
      };
      await flush(entries(0, 250)); // a summary of 250 entries: 1,000 bytes stored
      await flush(entries(250, 2)); // the page is now warm (no full-page image below)
      const wal = await flush(entries(252, 2), true);
      // The update's record: the changed fixed-width columns and 8 new bytes. Appending them logged the whole row.
      expect(wal).toBeLessThan(300);
      const row = await c.query<{ recent_ids: Buffer; points: string }>(
        `SELECT recent_ids, points::text AS points FROM balances WHERE user_id = 'busy'`,
      );
      expect(row.rows[0]!.points).toBe('15');
      const stored: number[] = [];
      for (let i = 0; i < row.rows[0]!.recent_ids.length; i += 4) stored.push(row.rows[0]!.recent_ids.readInt32BE(i));
      expect(stored.sort((a, b) => a - b)).toEqual(Array.from({ length: 254 }, (_, i) => i));
    } finally {
      c.release();
    }
  });
});
