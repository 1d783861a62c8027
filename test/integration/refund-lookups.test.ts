import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packBatch } from '../support/pack-batch.js';
import { openPartitionOffset } from '../../src/store/offsets.js';
import { testActor } from './support/actor.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

const DAY = 86_400_000;
// A Wednesday: no weekend doubling, so a purchase of 100 earns 100.
const BASE = Date.parse('2026-10-07T10:00:00Z');
const TOPIC = 'refund-lookups';

type Body = Record<string, string | number>;
const purchase = (user: string, id: string, at: number): Body => ({
  event_id: id,
  user_id: user,
  event_type: 'purchase',
  amount: 100,
  timestamp: new Date(at).toISOString(),
});
const refund = (user: string, id: string, of: string, amount: number, at: number): Body => ({
  event_id: id,
  user_id: user,
  event_type: 'refund',
  amount,
  original_event_id: of,
  timestamp: new Date(at).toISOString(),
});

/** A pool that counts the statements asking the ledger about refunded purchases (store/event-facts.ts), by kind. */
function countingPool(pool: pg.Pool): { pool: pg.Pool; purchaseLookups: () => number; byKind: Map<string, number> } {
  let n = 0;
  const byKind = new Map<string, number>();
  const proxy = new Proxy(pool, {
    get(target, prop) {
      if (prop === 'query')
        return (...args: unknown[]) => {
          const first = args[0] as string | { text?: string };
          const text = typeof first === 'string' ? first : (first.text ?? '');
          const kind =
            /\/\* (refunded purchases|recent purchases) \*\/$/.exec(text)?.[1] ??
            (text.startsWith('SELECT DISTINCT user_id, event_id') ? 'anywhere' : undefined);
          if (kind !== undefined) {
            n++;
            byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
          }
          return (target.query as (...a: unknown[]) => unknown)(...args);
        };
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { pool: proxy, purchaseLookups: () => n, byKind };
}

describe('refunds of purchases in the same batch', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let offset = 0;

  beforeAll(async () => {
    db = await migratedDatabase();
    offset = await openPartitionOffset(db.pool, TOPIC, 0);
  });
  afterAll(async () => db.drop());

  /** One batch through a fresh owner, then a flush. */
  async function batch(pool: pg.Pool, bodies: Body[]): Promise<void> {
    const a = testActor(pool, TOPIC, 'test', offset);
    await a.process(
      packBatch(
        bodies.map((b, j) => ({
          offset: offset + j,
          key: Buffer.from(String(b.user_id)),
          value: Buffer.from(JSON.stringify(b)),
        })),
      ),
    );
    expect(await a.flush()).toBe('ok');
    offset += bodies.length;
  }

  const points = async (user: string): Promise<number> =>
    Number(
      (await db.pool.query<{ points: string }>('SELECT points FROM balances WHERE user_id = $1', [user])).rows[0]
        ?.points,
    );

  it('answers a refund of a new purchase earlier in its batch from memory, not the ledger', async () => {
    const users = Array.from({ length: 50 }, (_, i) => `u${i}`);
    // Users Postgres holds ledger rows of: only those are ever looked up.
    await batch(
      db.pool,
      users.map((u) => purchase(u, `${u}-first`, BASE)),
    );
    const counted = countingPool(db.pool);
    await batch(
      counted.pool,
      users.flatMap((u) => [purchase(u, `${u}-p`, BASE + DAY), refund(u, `${u}-r`, `${u}-p`, 50, BASE + DAY + 1000)]),
    );
    expect(counted.purchaseLookups()).toBe(0);
    for (const u of users) expect(await points(u)).toBe(150);
    // A refund of a purchase that is in the ledger is still asked about, over the day its summary places it on.
    await batch(counted.pool, [refund('u0', 'u0-r2', 'u0-first', 100, BASE + 2 * DAY)]);
    expect([...counted.byKind]).toEqual([['recent purchases', 1]]);
    expect(await points('u0')).toBe(50);
  });

  it('asks over the whole refund window when the days the summary gives hold no such purchase', async () => {
    // A purchase, then 40 days on (its summary entry pruned) a refund whose own id is that purchase's: the
    // summary now places the id on day 40, where the ledger holds a refund, not the purchase.
    await batch(db.pool, [purchase('w', 'w-x', BASE)]);
    await batch(db.pool, [purchase('w', 'w-y', BASE + 40 * DAY)]);
    await batch(db.pool, [refund('w', 'w-x', 'w-y', 100, BASE + 40 * DAY + 1000)]);
    expect(await points('w')).toBe(100);
    const counted = countingPool(db.pool);
    await batch(counted.pool, [refund('w', 'w-r', 'w-x', 100, BASE + 41 * DAY)]);
    expect([...counted.byKind]).toEqual([
      ['recent purchases', 1],
      ['refunded purchases', 1],
    ]);
    // Day 0's purchase is within refund_window (90 days) of day 41: refunded.
    expect(await points('w')).toBe(0);
  });

  it('still reads what was refunded of a stored purchase when its repeat comes first in the batch', async () => {
    await batch(db.pool, [purchase('v', 'v-p', BASE), refund('v', 'v-r1', 'v-p', 100, BASE + 1000)]);
    expect(await points('v')).toBe(0);
    // The purchase again (a duplicate of the stored one), then another refund of it: nothing is left to take back.
    await batch(db.pool, [purchase('v', 'v-p', BASE + 2000), refund('v', 'v-r2', 'v-p', 100, BASE + 3000)]);
    expect(await points('v')).toBe(0);
    const statuses = await db.pool.query<{ event_id: string; status: string; points: string }>(
      "SELECT event_id, status, points FROM point_transactions WHERE user_id = 'v' ORDER BY kafka_offset",
    );
    expect(statuses.rows.map((r) => [r.event_id, r.status, Number(r.points)])).toEqual([
      ['v-p', 'applied', 100],
      ['v-r1', 'applied', -100],
      ['v-p', 'duplicate', 0],
      ['v-r2', 'applied', 0],
    ]);
  });
});
