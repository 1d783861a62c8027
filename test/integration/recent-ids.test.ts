import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packBatch } from '../support/pack-batch.js';
import { openPartitionOffset } from '../../src/store/offsets.js';
import { readRecentIds } from '../../src/store/recent-ids-sql.js';
import { RECENT_IDS_OFF } from '../../src/actors/recent-ids.js';
import { testActor } from './support/actor.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

const DAY = 86_400_000;
const WINDOW = 7 * DAY; // the default rules' idempotency_window
const BASE = Date.parse('2026-10-01T00:00:00Z');
const TOPIC = 'recent-topic';

interface Ev {
  user: string;
  id: string;
  at: number;
}

/** A pool whose id lookups in the ledger are counted (store/event-facts.ts' form), or the statements holding `marker`. */
function countingPool(
  pool: pg.Pool,
  marker = 'FROM point_transactions WHERE user_id = ANY (ARRAY(SELECT DISTINCT',
): { pool: pg.Pool; lookups: () => number } {
  let n = 0;
  const proxy = new Proxy(pool, {
    get(target, prop) {
      if (prop === 'query')
        return (...args: unknown[]) => {
          const first = args[0] as string | { text?: string };
          const text = typeof first === 'string' ? first : (first.text ?? '');
          if (text.includes(marker)) n++;
          return (target.query as (...a: unknown[]) => unknown)(...args);
        };
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { pool: proxy, lookups: () => n };
}

/** The statuses the default rules give: a repeat of a recorded id within the window is a duplicate. */
function replay(events: Ev[], seen: Map<string, number[]>): string[] {
  return events.map((e) => {
    const k = `${e.user}/${e.id}`;
    const times = seen.get(k) ?? [];
    if (times.some((t) => Math.abs(t - e.at) <= WINDOW)) return 'duplicate';
    times.push(e.at);
    seen.set(k, times);
    return 'applied';
  });
}

/** Each user's stored summary, against the one SQL builds from the ledger from the same day. */
async function summaryMismatches(pool: pg.Pool): Promise<{ users: number; wrong: string[] }> {
  const rows = await pool.query<{ user_id: string; recent_from: number | null; recent_ids: Buffer }>(
    'SELECT user_id, recent_from, recent_ids FROM balances',
  );
  const wrong: string[] = [];
  let users = 0;
  for (const r of rows.rows) {
    if (r.recent_from === null || r.recent_from === RECENT_IDS_OFF) continue;
    users++;
    const fromLedger = (await readRecentIds(pool, [r.user_id], r.recent_from)).get(r.user_id) ?? Buffer.alloc(0);
    const entries = (b: Buffer): number[] => {
      const out: number[] = [];
      for (let i = 0; i < b.length; i += 4) out.push(b.readInt32BE(i));
      return out.sort((x, y) => x - y);
    };
    if (entries(r.recent_ids).join() !== entries(fromLedger).join()) wrong.push(r.user_id);
  }
  return { users, wrong };
}

describe('recent ids in the balance rows (sql/007)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let offset = 0;
  const seen = new Map<string, number[]>();
  const statuses: string[] = [];
  const expected: string[] = [];

  beforeAll(async () => {
    db = await migratedDatabase();
    offset = await openPartitionOffset(db.pool, TOPIC, 0);
  });
  afterAll(async () => db.drop());

  /** Runs events through one actor (a fresh owner each call), a flush every 100 events, a small cache. */
  async function run(pool: pg.Pool, events: Ev[]): Promise<void> {
    const a = testActor(pool, TOPIC, 'test', offset, 40);
    for (let i = 0; i < events.length; i += 100) {
      const slice = events.slice(i, i + 100);
      await a.process(
        packBatch(
          slice.map((e, j) => ({
            offset: offset + j,
            key: Buffer.from(e.user),
            value: Buffer.from(
              JSON.stringify({
                event_id: e.id,
                user_id: e.user,
                event_type: 'purchase',
                amount: 10,
                timestamp: new Date(e.at).toISOString(),
              }),
            ),
          })),
        ),
      );
      expect(await a.flush()).toBe('ok');
      offset += slice.length;
    }
    expected.push(...replay(events, seen));
  }

  async function ledgerStatuses(): Promise<string[]> {
    const r = await db.pool.query<{ status: string }>('SELECT status FROM point_transactions ORDER BY kafka_offset');
    return r.rows.map((x) => x.status);
  }

  it('keeps, through evictions, owners and prunes, exactly the entries the ledger holds, and catches every repeat', async () => {
    // 120 users, ids drawn from a small pool (many repeats), event days over 40 days in random order.
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.floor(seed / 65536) % n;
    };
    const events: Ev[] = [];
    for (let i = 0; i < 3000; i++)
      events.push({ user: `u${rand(120)}`, id: `e${rand(20)}`, at: BASE + rand(40) * DAY + rand(DAY) });
    await run(db.pool, events.slice(0, 1500));
    await run(db.pool, events.slice(1500));
    statuses.push(...(await ledgerStatuses()));
    expect(statuses).toEqual(expected);
    expect(expected.filter((s) => s === 'duplicate').length).toBeGreaterThan(300);
    const m = await summaryMismatches(db.pool);
    expect(m.users).toBe(120);
    expect(m.wrong).toEqual([]);
  });

  it('answers new ids of reloaded users without the ledger, and asks it only about ids it may hold', async () => {
    const counted = countingPool(db.pool);
    // Fresh ids, all within the summaries' days: no lookup at all.
    const fresh: Ev[] = Array.from({ length: 400 }, (_, i) => ({
      user: `u${i % 120}`,
      id: `new-${i}`,
      at: BASE + 39 * DAY,
    }));
    await run(counted.pool, fresh);
    expect(counted.lookups()).toBe(0);
    // The same ids again: the summaries match, so the ledger is asked, and finds them.
    await run(counted.pool, fresh);
    expect(counted.lookups()).toBeGreaterThan(0);
    expect(await ledgerStatuses()).toEqual(expected);
  });

  it('keeps a busy user out of its balance row, and a new owner still catches its repeats', async () => {
    const busy: Ev[] = Array.from({ length: 300 }, (_, i) => ({ user: 'busy', id: `b-${i}`, at: BASE + 20 * DAY + i }));
    await run(db.pool, busy);
    const row = await db.pool.query<{ recent_from: number; n: number }>(
      "SELECT recent_from, length(recent_ids) AS n FROM balances WHERE user_id = 'busy'",
    );
    expect(row.rows[0]).toEqual({ recent_from: RECENT_IDS_OFF, n: 0 });
    await run(db.pool, busy.slice(0, 150));
    expect(await ledgerStatuses()).toEqual(expected);
  });

  it('builds a summary from the ledger from one window and a day before the batch, and still catches older repeats', async () => {
    // Days from today (a fixed date would fall behind the summaries' 7-bit reach): rows over days 30-59 of a base 60
    // days ago, then the user's summary taken away (as before sql/007): the next owner reads it from the ledger.
    const base = Math.floor(Date.now() / DAY) * DAY - 60 * DAY;
    const rows: Ev[] = Array.from({ length: 60 }, (_, i) => ({
      user: 'rebuilt',
      id: `r-${i}`,
      at: base + 30 * DAY + i * (DAY / 2),
    }));
    await run(db.pool, rows);
    await db.pool.query("UPDATE balances SET recent_from = NULL, recent_ids = ''::bytea WHERE user_id = 'rebuilt'");
    const at = base + 59 * DAY;
    // First batch (day 59): a repeat of r-58, inside the rebuilt summary, then new ids. Second batch: a repeat
    // of r-30 (day 45) at day 51, whose window reaches before the summary's start (day 51): the ledger answers,
    // over the whole window (a summary from three windows back would have placed it on day 45).
    const fresh: Ev[] = Array.from({ length: 99 }, (_, i) => ({ user: 'rebuilt', id: `f-${i}`, at }));
    const counted = countingPool(db.pool, '/* duplicate ids */');
    await run(counted.pool, [
      { user: 'rebuilt', id: 'r-58', at },
      ...fresh,
      { user: 'rebuilt', id: 'r-30', at: base + 51 * DAY },
    ]);
    const row = await db.pool.query<{ recent_from: number }>(
      "SELECT recent_from FROM balances WHERE user_id = 'rebuilt'",
    );
    expect(row.rows[0]!.recent_from).toBe(Math.floor(at / DAY) - 8);
    expect(counted.lookups()).toBe(1);
    expect(expected.slice(-101, -99)).toEqual(['duplicate', 'applied']);
    expect(expected.at(-1)).toBe('duplicate');
    expect(await ledgerStatuses()).toEqual(expected);
  });

  it('builds no further back than its day offsets reach, whatever the batch holds', async () => {
    // A batch with a 200-day-old event: a summary starting before it could not place today's rows (7-bit offsets).
    const today = Math.floor(Date.now() / DAY) * DAY;
    const busy: Ev[] = Array.from({ length: 300 }, (_, i) => ({ user: 'far', id: `f-${i}`, at: today - DAY + i }));
    await run(db.pool, busy);
    await run(db.pool, [{ user: 'far', id: 'old', at: today - 200 * DAY }, ...busy.slice(0, 50)]);
    expect(await ledgerStatuses()).toEqual(expected);
    expect(expected.slice(-50).every((st) => st === 'duplicate')).toBe(true);
  });

  it.each([10, 40])(
    "reads a busy user's summary from the ledger when a new owner loads it, so its new ids need no lookup (%i days back)",
    async (back) => {
      // 40 days back is further than the summary's keep (23 days) before today: it must start from the batch's events.
      const recent = Math.floor(Date.now() / DAY) * DAY - back * DAY;
      const user = `busy-${back}`;
      const busy: Ev[] = Array.from({ length: 300 }, (_, i) => ({ user, id: `c-${i}`, at: recent + i }));
      await run(db.pool, busy);
      const counted = countingPool(db.pool);
      const fresh: Ev[] = Array.from({ length: 100 }, (_, i) => ({ user, id: `d-${i}`, at: recent + DAY + i }));
      await run(counted.pool, fresh);
      expect(counted.lookups()).toBe(0);
      // Its repeats are still caught: the built summary matches them, and the ledger confirms.
      await run(counted.pool, busy.slice(0, 20));
      expect(counted.lookups()).toBeGreaterThan(0);
      expect(await ledgerStatuses()).toEqual(expected);
    },
  );

  it('builds the summary from the ledger for users stored before it existed', async () => {
    // Recent ids (the summary built at load covers the days before today), recorded before the summaries are wiped.
    const now = Date.now();
    const recent: Ev[] = Array.from({ length: 240 }, (_, i) => ({ user: `u${i % 120}`, id: `now-${i}`, at: now }));
    await run(db.pool, recent);
    await db.pool.query("UPDATE balances SET recent_from = NULL, recent_ids = ''");
    await run(db.pool, recent);
    expect(await ledgerStatuses()).toEqual(expected);
    const m = await summaryMismatches(db.pool);
    expect(m.users).toBe(120);
    expect(m.wrong).toEqual([]);
  });
});
