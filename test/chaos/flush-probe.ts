import type pg from 'pg';

/**
 * Waits (briefly) until one of the engine's connections to the database of `dbUrl` is inside a flush
 * transaction; true if seen. Shared by the SIGKILL scenarios so that a kill can land mid-commit. With a
 * lifecycle block the flush also writes point_lots and expires users not held (a DELETE ... in a WITH):
 * those statements count too.
 */
export async function flushInProgress(pool: pg.Pool, dbUrl: string): Promise<boolean> {
  const name = new URL(dbUrl).pathname.slice(1);
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const r = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'loyalty-engine'
       AND (state = 'idle in transaction' OR (state = 'active' AND query ~* '^\\s*(COPY|UPDATE consumer_offsets|INSERT INTO balances|INSERT INTO purchase_refunds|INSERT INTO point_lots|DELETE FROM point_lots|WITH gone)'))`,
      [name],
    );
    if ((r.rows[0]?.n ?? 0) > 0) return true;
  }
  return false;
}
