import pg from 'pg';
import { migrate } from '../src/store/migrations.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../tools/stack/postgres-server.js';

/** The admin URL of the server a ledger benchmark measures: DATABASE_URL (the tuned cluster's, say). */
export function adminUrlFromEnv(): string {
  const url = process.env.DATABASE_URL;
  if (url === undefined) throw new Error('DATABASE_URL: the admin URL of the server to measure');
  return url;
}

/** The UTC day a scratch ledger's rows lie on: its one partition is made for it. */
export const SCRATCH_DAY0 = Date.UTC(2026, 10, 1);

/** sql/003's event-key index, which sql/009 dropped: what the ledger benchmarks compare the ledger with. */
export const SQL003_EVENT_KEY_INDEX =
  "CREATE INDEX point_transactions_event_key ON point_transactions (hashtextextended(user_id || '/' || event_id, 0)) WHERE status <> 'duplicate'";

/**
 * `fn` on one connection to a scratch database of the server at `adminUrl`, migrated, with the ledger's partition
 * for SCRATCH_DAY0 and one rules version (id 1); the database is dropped afterwards, whatever `fn` did.
 */
export async function withScratchLedger(
  adminUrl: string,
  prefix: string,
  fn: (c: pg.PoolClient) => Promise<void>,
): Promise<void> {
  const db = `${prefix}_${Date.now().toString(36)}`;
  await ensureDatabase(adminUrl, db);
  const pool = new pg.Pool({ connectionString: withDatabase(adminUrl, db), max: 1 });
  try {
    await migrate(pool);
    const c = await pool.connect();
    try {
      const day = new Date(SCRATCH_DAY0).toISOString().slice(0, 10);
      await c.query('SELECT ledger_ensure_partitions($1::date, $1::date)', [day]);
      await c.query(`INSERT INTO rules_versions (version) VALUES ('bench')`);
      await fn(c);
    } finally {
      c.release();
    }
  } finally {
    await pool.end();
    await dropDatabase(adminUrl, db);
  }
}
