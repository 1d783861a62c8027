import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packBatch } from '../support/pack-batch.js';
import type { PartitionActor } from '../../src/actors/partition-actor.js';
import { openPartitionOffset } from '../../src/store/offsets.js';
import { testActor } from './support/actor.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

const purchase = (user: string, id: string, amount: number): { key: Buffer; value: Buffer } => ({
  key: Buffer.from(user),
  value: Buffer.from(
    JSON.stringify({ event_id: id, user_id: user, event_type: 'purchase', amount, timestamp: '2026-11-24T10:00:00Z' }),
  ),
});

/**
 * The actor skips ledger lookups for users Postgres holds no rows of: a repeated id must still
 * be caught once the first occurrence is only in Postgres (after a flush, and by a new actor).
 */
describe('repeated event ids across flushes and owners', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await migratedDatabase();
  });
  afterAll(async () => db.drop());

  const actor = (offset: number): PartitionActor => testActor(db.pool, 'dup-topic', 'test', offset);

  it("a new user's id repeated after a flush, and again by a fresh owner, counts once", async () => {
    const start = await openPartitionOffset(db.pool, 'dup-topic', 0);
    const a = actor(start);
    await a.process(packBatch([{ offset: start, ...purchase('zed', 'p-1', 10) }]));
    expect(await a.flush()).toBe('ok');
    await a.process(packBatch([{ offset: start + 1, ...purchase('zed', 'p-1', 10) }]));
    expect(await a.flush()).toBe('ok');
    const b = actor(start + 2);
    await b.process(
      packBatch([
        { offset: start + 2, ...purchase('zed', 'p-1', 10) },
        { offset: start + 3, ...purchase('zed', 'p-2', 5) },
      ]),
    );
    expect(await b.flush()).toBe('ok');

    const bal = await db.pool.query<{ points: string }>("SELECT points FROM balances WHERE user_id = 'zed'");
    expect(Number(bal.rows[0]!.points)).toBe(15);
    const ledger = await db.pool.query<{ status: string }>(
      "SELECT status FROM point_transactions WHERE user_id = 'zed' ORDER BY kafka_offset",
    );
    expect(ledger.rows.map((r) => r.status)).toEqual(['applied', 'duplicate', 'duplicate', 'applied']);
  });
});
