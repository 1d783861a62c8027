import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { BalanceReader } from '../../src/store/balance-reader.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

/** Counts the queries a pool runs, and can make them fail. */
function countingPool(pool: pg.Pool): { pool: pg.Pool; queries: () => number; failNext: (n: number) => void } {
  let queries = 0;
  let failures = 0;
  const wrapped = Object.create(pool) as pg.Pool;
  const query = (async (...args: Parameters<pg.Pool['query']>) => {
    queries++;
    if (failures > 0) {
      failures--;
      throw new Error('connection terminated');
    }
    return (pool.query as (...a: unknown[]) => Promise<unknown>)(...args);
  }) as unknown as pg.Pool['query'];
  Object.defineProperty(wrapped, 'query', { value: query });
  return { pool: wrapped, queries: () => queries, failNext: (n) => (failures = n) };
}

describe('BalanceReader: concurrent balance reads share queries', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await migratedDatabase();
    await db.pool.query(
      `INSERT INTO balances (user_id, points, lifetime_earned, updated_at, last_partition, last_offset)
       SELECT 'u' || i, i * 10, i * 20, timestamptz '2026-11-24 10:00:00.123+00', i % 12, i FROM generate_series(1, 2000) AS i`,
    );
  });
  afterAll(async () => db.drop());

  it('answers 1,000 concurrent reads correctly with far fewer queries, unknown users as undefined', async () => {
    const c = countingPool(db.pool);
    const reader = new BalanceReader(c.pool, 1, 256);
    const ids = Array.from({ length: 1000 }, (_, i) => (i % 10 === 9 ? `nobody${i}` : `u${(i % 1500) + 1}`));
    const got = await Promise.all(ids.map((id) => reader.read(id)));
    ids.forEach((id, i) => {
      const b = got[i];
      if (id.startsWith('nobody')) return expect(b).toBeUndefined();
      const n = Number(id.slice(1));
      expect(b).toEqual({
        points: n * 10,
        lifetimeEarned: n * 20,
        updatedAt: '2026-11-24T10:00:00.123Z',
        lastPartition: n % 12,
        lastOffset: n,
      });
    });
    // The first read goes alone; the other 999 wait for it and go out in batches of at most 256.
    expect(c.queries()).toBeLessThanOrEqual(1 + Math.ceil(999 / 256));
    expect(c.queries()).toBeGreaterThan(1);
  });

  it('the same user asked twice in one batch gets the same answer twice', async () => {
    const reader = new BalanceReader(db.pool, 1);
    const [a, b, c] = await Promise.all([reader.read('u7'), reader.read('u7'), reader.read('u7')]);
    expect(a?.points).toBe(70);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it('a failed query rejects exactly the reads it carried; the next reads succeed', async () => {
    const c = countingPool(db.pool);
    const reader = new BalanceReader(c.pool, 1);
    c.failNext(1);
    const first = reader.read('u1'); // goes alone, and fails
    const rest = [reader.read('u2'), reader.read('u3')]; // wait, then share the next query
    await expect(first).rejects.toThrow('connection terminated');
    expect((await Promise.all(rest)).map((b) => b?.points)).toEqual([20, 30]);
  });

  it('sees a write committed before the read was asked', async () => {
    const reader = new BalanceReader(db.pool, 2);
    await db.pool.query("UPDATE balances SET points = 4242 WHERE user_id = 'u5'");
    expect((await reader.read('u5'))?.points).toBe(4242);
  });
});
