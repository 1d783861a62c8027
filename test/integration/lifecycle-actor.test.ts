import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchBuilder, type PackedBatch } from '../../src/actors/batch-codec.js';
import { PartitionActor } from '../../src/actors/partition-actor.js';
import { tickValue } from '../../src/kafka/clock-tick.js';
import { parseRules } from '../../src/rules/index.js';
import { readHistory } from '../../src/store/history.js';
import { openPartitionOffset } from '../../src/store/offsets.js';
import { LIFECYCLE_RULES } from '../../tools/simulator/lifecycle-stream.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 10, 12); // a purchase then: available 2025-01-25, expires 2026-01-11 (midnights UTC)
const iso = (ms: number): string => new Date(ms).toISOString();
const rules = parseRules(LIFECYCLE_RULES);

type Msg = { tick: number } | { user: string; type: string; amount: number; at: number; extra?: object };

/** A partition actor under the lifecycle rules, driven directly (no consumer, no thread). */
function actor(
  pool: pg.Pool,
  offset: number,
  cacheUsers = 1000,
  topic = 'lc-topic',
  expiryBatchLots = 2000,
): PartitionActor {
  return new PartitionActor(topic, 0, 1, offset, {
    pool,
    rules: () => rules,
    limits: {
      maxMessageBytes: 65536,
      cacheUsers,
      ledgerRetentionMs: 36_500 * DAY,
      ledgerFutureMs: 7 * DAY,
      expiryBatchLots,
    },
    owner: 'test',
    onRetry: () => undefined,
  });
}

let seq = 0;
function batch(from: number, msgs: Msg[]): PackedBatch {
  const b = new BatchBuilder(msgs.length);
  msgs.forEach((m, i) => {
    if ('tick' in m) b.pushTick(from + i, tickValue(m.tick));
    else
      b.push(
        from + i,
        Buffer.from(m.user),
        Buffer.from(
          JSON.stringify({
            event_id: `a-${++seq}`,
            user_id: m.user,
            event_type: m.type,
            amount: m.amount,
            timestamp: iso(m.at),
            ...(m.type === 'adjust' && { reason: 'test' }),
            ...m.extra,
          }),
        ),
      );
  });
  return b.finish();
}

describe('the partition actor under a lifecycle block', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await migratedDatabase();
  });
  afterAll(async () => db.drop());

  const rows = async (user: string): Promise<[string, number, number, string, number][]> =>
    (
      await db.pool.query<{
        event_type: string;
        points: string;
        balance_after: string;
        event_time: Date;
        kafka_offset: string;
      }>(
        `SELECT event_type, points, balance_after, event_time, kafka_offset FROM point_transactions
         WHERE user_id = $1 AND status = 'applied' ORDER BY kafka_offset, event_time`,
        [user],
      )
    ).rows.map((r) => [
      r.event_type,
      Number(r.points),
      Number(r.balance_after),
      r.event_time.toISOString(),
      Number(r.kafka_offset),
    ]);
  const balance = async (user: string): Promise<number> =>
    Number(
      (await db.pool.query<{ points: string }>('SELECT points FROM balances WHERE user_id = $1', [user])).rows[0]!
        .points,
    );
  const lots = async (user: string): Promise<number> =>
    Number(
      (await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM point_lots WHERE user_id = $1', [user])).rows[0]!
        .n,
    );

  it('holds pending points back, expires them at their moment in memory and in SQL, and keeps the clock across owners', async () => {
    const start = await openPartitionOffset(db.pool, 'lc-topic', 0);
    const a = actor(db.pool, start);
    // amy: 100 pending; a redeem of 10 while pending is refused; after release it is applied.
    await a.process(
      batch(start, [
        { user: 'amy', type: 'purchase', amount: 100.9, at: T0 },
        { user: 'amy', type: 'redeem', amount: 10, at: T0 + DAY },
        { user: 'bob', type: 'purchase', amount: 50, at: T0 + 2 * DAY },
        { user: 'amy', type: 'redeem', amount: 10, at: T0 + 20 * DAY },
      ]),
    );
    expect(await a.flush()).toBe('ok');
    const r1 = await db.pool.query<{ status: string }>(
      "SELECT status FROM point_transactions WHERE user_id = 'amy' ORDER BY kafka_offset",
    );
    expect(r1.rows.map((r) => r.status)).toEqual(['applied', 'rejected', 'applied']);
    expect(await balance('amy')).toBe(90);

    // A new owner (as after a restart) resumes the clock; a tick past amy's and bob's expiry expires
    // them in SQL (neither is held), each at its latest event's offset.
    const b = actor(db.pool, start + 4);
    await b.process(batch(start + 4, [{ tick: Date.UTC(2026, 0, 14) }]));
    expect(await b.flush()).toBe('ok');
    expect(await balance('amy')).toBe(0);
    expect(await balance('bob')).toBe(0);
    expect((await rows('amy')).at(-1)).toEqual(['expire', -90, 0, '2026-01-11T00:00:00.000Z', start + 3]);
    expect((await rows('bob')).at(-1)).toEqual(['expire', -50, 0, '2026-01-13T00:00:00.000Z', start + 2]);
    const ticks = await db.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM point_transactions WHERE kafka_offset = $1',
      [start + 4],
    );
    expect(Number(ticks.rows[0]!.n)).toBe(0); // the tick itself is no ledger row
    const dl = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters');
    expect(Number(dl.rows[0]!.n)).toBe(0); // nor a dead letter
  });

  it("expires a held user at the flush after a midnight, and a late event's lot at once", async () => {
    const start = await openPartitionOffset(db.pool, 'lc-topic', 0);
    const a = actor(db.pool, start);
    const now = Date.UTC(2026, 0, 20, 8);
    await a.process(
      batch(start, [
        { user: 'cy', type: 'adjust', amount: 40, at: now, extra: { expires_at: iso(now + 2 * DAY) } },
        // Late by 400 days: its lot expired long before the clock: +25 then -25 at the same offset.
        { user: 'cy', type: 'purchase', amount: 25, at: now - 400 * DAY },
      ]),
    );
    expect(await a.flush()).toBe('ok');
    expect(await balance('cy')).toBe(40);
    expect((await rows('cy')).slice(-2)).toEqual([
      ['purchase', 25, 65, iso(now - 400 * DAY), start + 1],
      ['expire', -25, 40, iso(Date.UTC(2025, 11, 17)), start + 1],
    ]);
    // Another user's event moves the clock past cy's adjust expiry (2026-01-23): cy is held, so the actor expires it.
    await a.process(batch(start + 2, [{ user: 'dee', type: 'purchase', amount: 5, at: now + 3 * DAY }]));
    expect(await a.flush()).toBe('ok');
    expect(await balance('cy')).toBe(0);
    expect(await lots('cy')).toBe(0);
    expect((await rows('cy')).at(-1)).toEqual(['expire', -40, 0, iso(Date.UTC(2026, 0, 23)), start + 1]);

    // History pages never end inside an offset (three rows share start + 1): every row on exactly one page.
    const all = (await readHistory(db.pool, 'cy', 500, null)).items!;
    expect(all.map((x) => [x.event_type, x.offset])).toEqual([
      ['purchase', start + 1],
      ['expire', start + 1],
      ['expire', start + 1],
      ['adjust', start],
    ]);
    for (const limit of [1, 2, 3]) {
      const paged: unknown[] = [];
      let before: number | null = null;
      do {
        const page = await readHistory(db.pool, 'cy', limit, before);
        paged.push(...page.items!);
        before = page.next;
      } while (before !== null);
      expect(paged, `limit ${limit}`).toEqual(all);
    }
  });

  it('fences a stale owner whose flush only expires (no offset moves): a user loaded meanwhile is expired once', async () => {
    const topic = 'lc-seq';
    const D = Date.UTC(2025, 5, 10);
    const start = await openPartitionOffset(db.pool, topic, 0);
    const x = actor(db.pool, start, 1000, topic);
    // ed0 and ed1 expire first (D - 1 d), ed9 at D: a share of 2 lots leaves ed9 due in SQL.
    await x.process(
      batch(start, [
        { user: 'ed0', type: 'adjust', amount: 10, at: D - 5 * DAY, extra: { expires_at: iso(D - DAY) } },
        { user: 'ed1', type: 'adjust', amount: 11, at: D - 5 * DAY, extra: { expires_at: iso(D - DAY) } },
        { user: 'ed9', type: 'adjust', amount: 19, at: D - 5 * DAY, extra: { expires_at: iso(D) } },
      ]),
    );
    expect(await x.flush()).toBe('ok');
    // A (holding none of them) moves the clock past D: its flush expires 2 lots and reports a backlog.
    const a = actor(db.pool, start + 3, 1000, topic, 2);
    await a.process(batch(start + 3, [{ tick: D + 3_600_000 }]), true);
    expect(a.lifecycle?.expiryBacklog).toBe(true);
    expect([await balance('ed0'), await balance('ed1'), await balance('ed9')]).toEqual([0, 0, 19]);
    // B takes the partition over and loads ed9 (due lot still in SQL): settled in memory, not committed yet.
    const b = actor(db.pool, await openPartitionOffset(db.pool, topic, 0), 1000, topic, 2);
    await b.process(batch(start + 4, [{ user: 'ed9', type: 'purchase', amount: 5, at: D + 7_200_000 }]));
    // A, stale, flushes its backlog: no event, so no offset moves; it expires ed9 in SQL.
    expect(await a.flush()).toBe('ok');
    expect(await balance('ed9')).toBe(0);
    // B's flush must not expire ed9 a second time: lifecycle_seq moved, so it is fenced.
    expect(await b.flush()).toBe('fenced');
    const c = actor(db.pool, await openPartitionOffset(db.pool, topic, 0), 1000, topic, 2);
    await c.process(batch(start + 4, [{ user: 'ed9', type: 'purchase', amount: 5, at: D + 7_200_000 }]), true);
    expect(await balance('ed9')).toBe(5);
    expect((await rows('ed9')).map((r) => [r[0], r[1], r[2]])).toEqual([
      ['adjust', 19, 19],
      ['expire', -19, 0],
      ['purchase', 5, 5],
    ]);
  });
});
