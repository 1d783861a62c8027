import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packBatch } from '../support/pack-batch.js';
import type { PartitionActor } from '../../src/actors/partition-actor.js';
import { flushToPostgres } from '../../src/store/flush.js';
import { openPartitionOffset } from '../../src/store/offsets.js';
import { testActor } from './support/actor.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

const purchase = (user: string, amount: number): { key: Buffer; value: Buffer } => ({
  key: Buffer.from(user),
  value: Buffer.from(
    JSON.stringify({ user_id: user, event_type: 'purchase', amount, timestamp: '2026-11-24T10:00:00Z' }),
  ),
});

describe('a stale owner cannot write', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await migratedDatabase();
  });
  afterAll(async () => db.drop());

  const actor = (owner: string, offset: number): PartitionActor => testActor(db.pool, 'fence-topic', owner, offset);

  it('the old owner, kept alive past a rebalance, is fenced and its work discarded', async () => {
    const start = await openPartitionOffset(db.pool, 'fence-topic', 0);
    const oldOwner = actor('old', start);
    const newOwner = actor('new', start);
    const msgs = [0, 1, 2].map((i) => ({ offset: start + i, ...purchase('alice', 10) }));
    // Both apply the same events; the new owner commits first.
    await oldOwner.process(packBatch(msgs));
    await newOwner.process(packBatch(msgs));
    expect(await newOwner.flush()).toBe('ok');
    expect(await oldOwner.flush()).toBe('fenced');
    // The old owner dropped its state and now sits at the stored position.
    expect(oldOwner.pending).toBe(0);
    expect(oldOwner.nextOffset).toBe(start + 3);

    const bal = await db.pool.query<{ points: string }>("SELECT points FROM balances WHERE user_id = 'alice'");
    expect(Number(bal.rows[0]!.points)).toBe(30);
    const ledger = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM point_transactions');
    expect(Number(ledger.rows[0]!.n)).toBe(3);
    const owner = await db.pool.query<{ owner: string }>(
      "SELECT owner FROM consumer_offsets WHERE topic = 'fence-topic'",
    );
    expect(owner.rows[0]!.owner).toBe('new');
  });

  it('a flush that expects an offset no longer stored changes nothing', async () => {
    const before = await db.pool.query('SELECT * FROM balances ORDER BY user_id');
    const outcome = await flushToPostgres(db.pool, {
      topic: 'fence-topic',
      partition: 0,
      expectedOffset: 0,
      newOffset: 99,
      owner: 'zombie',
      deltas: 'alice\t1000\t1000\t0\t0\t98\n',
      ledger: '',
      ledgerDays: [],
      deadLetters: '',
      refunds: [],
    });
    expect(outcome).toEqual({ kind: 'fenced', storedOffset: 3 });
    const after = await db.pool.query('SELECT * FROM balances ORDER BY user_id');
    expect(after.rows).toEqual(before.rows);
  });
});
