import type pg from 'pg';

/**
 * Runs `work` in one transaction on a client of its own: BEGIN, then COMMIT if `work` resolves,
 * ROLLBACK if it throws. A client that failed mid-transaction may be in any state, so it is
 * destroyed rather than handed out again.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  o: {
    /** Runs on the same client before BEGIN (session set-up, or statements that must not hold the transaction's locks). */
    before?: (client: pg.PoolClient) => Promise<void>;
    /** Told of a failure before it is rethrown; the client is destroyed after this. */
    onError?: (e: unknown, client: pg.PoolClient) => void;
  } = {},
): Promise<T> {
  const client = await pool.connect();
  // A checked-out client whose connection dies emits 'error'; unhandled, that would crash the
  // thread. The query in flight rejects as well, and that is where it is handled.
  const ignore = (): void => undefined;
  client.on('error', ignore);
  let broken = false;
  try {
    await o.before?.(client);
    await client.query('BEGIN');
    const value = await work(client);
    await client.query('COMMIT');
    return value;
  } catch (e) {
    broken = true;
    await client.query('ROLLBACK').catch(() => undefined);
    o.onError?.(e, client);
    throw e;
  } finally {
    client.off('error', ignore);
    client.release(broken);
  }
}
