import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rulesVersionId } from '../../src/store/rules-versions.js';
import { migratedDatabase } from './support/stack.js';

type Db = Awaited<ReturnType<typeof migratedDatabase>>;

describe('a rules version recorded by two sessions at once', () => {
  let db: Db;
  let other: pg.Pool;

  beforeAll(async () => {
    db = await migratedDatabase();
    other = new pg.Pool({ connectionString: db.url, max: 1 });
  });
  afterAll(async () => {
    await other.end();
    await db.drop();
  });

  it('gives the one that waited on the key the id the other committed, on the first try', async () => {
    // Session A inserts the version and holds its transaction open; session B's insert waits on the unique key
    // and ends in DO NOTHING once A commits. B's statement snapshot predates A's commit, so its own read of the
    // table is empty: without a second statement it threw "could not be recorded" (a warning and a retry at
    // every engine's first start with several actor threads).
    const a = await db.pool.connect();
    try {
      await a.query('BEGIN');
      const inserted = await a.query<{ id: number }>('INSERT INTO rules_versions (version) VALUES ($1) RETURNING id', [
        'raced0000001',
      ]);
      const waiting = rulesVersionId(other, 'raced0000001');
      // B is blocked on A's key: wait until Postgres shows it waiting on a lock, then let A commit.
      for (let i = 0; ; i++) {
        const w = await db.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
             AND query LIKE 'WITH ins AS (INSERT INTO rules_versions%'`,
        );
        if (w.rowCount === 1) break;
        if (i > 200) throw new Error('the second session never waited on the key');
        await new Promise((r) => setTimeout(r, 25));
      }
      await a.query('COMMIT');
      expect(await waiting).toBe(inserted.rows[0]!.id);
    } finally {
      a.release();
    }
  });
});
