import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openPartitionOffset } from '../../src/store/offsets.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

/**
 * Opening a partition whose offset row a previous owner's transaction still holds: an engine cut off inside a
 * flush leaves one behind (the chaos suite's "both cut" scenario) and, until Postgres notices, the new owner
 * could not commit. The open ends a stuck engine session, never anybody else's.
 */
describe('partition takeover at open', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await migratedDatabase();
  });
  afterAll(async () => db.drop());

  /** A session that has moved the partition's offset inside a transaction it never ends. */
  async function holder(applicationName: string, partition: number): Promise<{ client: pg.Client; pid: number }> {
    await openPartitionOffset(db.pool, 'events', partition);
    const client = new pg.Client({ connectionString: db.url, application_name: applicationName });
    client.on('error', () => undefined);
    await client.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await client.query('BEGIN');
    await client.query("UPDATE consumer_offsets SET next_offset = 500 WHERE topic = 'events' AND partition = $1", [
      partition,
    ]);
    return { client, pid };
  }

  const alive = async (pid: number): Promise<boolean> =>
    ((await db.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount ?? 0) > 0;

  it('ends a stuck engine session holding the row; its uncommitted move is rolled back', async () => {
    const h = await holder('loyalty-engine', 1);
    const ended: number[] = [];
    const started = Date.now();
    const offset = await openPartitionOffset(db.pool, 'events', 1, {
      takeoverAfterMs: 500,
      onTakeover: (pids) => ended.push(...pids),
    });
    expect(offset).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(ended).toEqual([h.pid]);
    expect(await alive(h.pid)).toBe(false);
  });

  it("waits for another application's session instead of ending it", async () => {
    const h = await holder('psql', 2);
    const open = openPartitionOffset(db.pool, 'events', 2, { takeoverAfterMs: 300 });
    const early = await Promise.race([
      open.then(() => 'opened'),
      new Promise((r) => setTimeout(() => r('waiting'), 2000)),
    ]);
    expect(early).toBe('waiting');
    expect(await alive(h.pid)).toBe(true);
    await h.client.query('COMMIT');
    expect(await open).toBe(500);
    await h.client.end();
  });
});
