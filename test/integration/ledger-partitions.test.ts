import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packBatch } from '../support/pack-batch.js';
import { PartitionActor } from '../../src/actors/partition-actor.js';
import { parseRules, type RuleSet } from '../../src/rules/index.js';
import { factsStatement } from '../../src/store/event-facts.js';
import { openPartitionOffset } from '../../src/store/offsets.js';
import { DAY_MS, listLedgerPartitions, partitionName, utcDay } from '../../src/store/ledger-partitions.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

type Db = Awaited<ReturnType<typeof freshDatabase>>;
const iso = (ms: number): string => new Date(ms).toISOString();

/** An actor with its own rules; any Postgres error fails the test instead of being retried forever. */
function actorFor(db: Db, rules: RuleSet, offset: number): PartitionActor {
  return new PartitionActor('ledger-topic', 0, 1, offset, {
    pool: db.pool,
    rules: () => rules,
    limits: { maxMessageBytes: 65536, cacheUsers: 1000, ledgerRetentionMs: 90 * DAY_MS, ledgerFutureMs: 7 * DAY_MS },
    owner: 'test',
    onRetry: (what, e) => {
      throw new Error(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    },
  });
}

const event = (offset: number, body: Record<string, unknown>): { offset: number; key: Buffer; value: Buffer } => ({
  offset,
  key: Buffer.from(String(body.user_id)),
  value: Buffer.from(JSON.stringify(body)),
});

describe('the ledger partitioned by day of event time', () => {
  let db: Db;
  let offset: number;
  const rules = parseRules('version: 1\nidempotency_window: 2d\nrefund_window: 10d\n');
  const now = Date.now();

  beforeAll(async () => {
    db = await migratedDatabase();
    offset = await openPartitionOffset(db.pool, 'ledger-topic', 0);
  });
  afterAll(async () => db.drop());

  /** Applies events (each at the next offset) with a fresh actor and flushes; returns the dead-letter counts. */
  async function run(bodies: Record<string, unknown>[]): Promise<Record<string, number>> {
    const a = actorFor(db, rules, offset);
    await a.process(packBatch(bodies.map((b, i) => event(offset + i, b))));
    expect(await a.flush()).toBe('ok');
    offset += bodies.length;
    return a.takeTally().deadLetters;
  }
  const ledgerRow = async (eventId: string): Promise<{ status: string; tableoid: string } | undefined> =>
    (
      await db.pool.query<{ status: string; tableoid: string }>(
        'SELECT status, tableoid::regclass::text AS tableoid FROM point_transactions WHERE event_id = $1',
        [eventId],
      )
    ).rows[0];

  it("a late event (60 days old) gets its day's partition on demand, and a pre-dated one (5 days ahead) too", async () => {
    const late = now - 60 * DAY_MS;
    const ahead = now + 5 * DAY_MS;
    const before = (await listLedgerPartitions(db.pool)).map((p) => p.day);
    expect(before).not.toContain(utcDay(late));
    expect(before).not.toContain(utcDay(ahead));
    const dead = await run([
      { event_id: 'late-1', user_id: 'lara', event_type: 'purchase', amount: 40, timestamp: iso(late) },
      { event_id: 'ahead-1', user_id: 'lara', event_type: 'purchase', amount: 2, timestamp: iso(ahead) },
    ]);
    expect(dead).toEqual({});
    expect(await ledgerRow('late-1')).toEqual({ status: 'applied', tableoid: partitionName(utcDay(late)) });
    expect(await ledgerRow('ahead-1')).toEqual({ status: 'applied', tableoid: partitionName(utcDay(ahead)) });
  });

  it('an event further ahead than LEDGER_FUTURE_LIMIT, or older than LEDGER_RETENTION, is a dead letter with its reason and no ledger row', async () => {
    const dead = await run([
      { event_id: 'future-1', user_id: 'lara', event_type: 'purchase', amount: 10, timestamp: iso(now + 30 * DAY_MS) },
      { event_id: 'old-1', user_id: 'lara', event_type: 'purchase', amount: 10, timestamp: '2019-03-01T10:00:00Z' },
    ]);
    expect(dead).toEqual({ event_too_far_ahead: 1, event_too_old: 1 });
    expect(await ledgerRow('future-1')).toBeUndefined();
    expect(await ledgerRow('old-1')).toBeUndefined();
    const dl = await db.pool.query<{ reason: string }>('SELECT reason FROM dead_letters ORDER BY kafka_offset');
    expect(dl.rows.map((r) => r.reason)).toEqual(['event_too_far_ahead', 'event_too_old']);
    expect((await listLedgerPartitions(db.pool)).map((p) => p.day)).not.toContain(utcDay(now + 30 * DAY_MS));
  });

  it('a refund further than refund_window from its purchase is a dead letter refund_window_passed (purchase in Postgres or pending); within it, applied', async () => {
    await run([
      { event_id: 'buy-old', user_id: 'rita', event_type: 'purchase', amount: 100, timestamp: iso(now - 20 * DAY_MS) },
      { event_id: 'buy-new', user_id: 'rita', event_type: 'purchase', amount: 100, timestamp: iso(now - 5 * DAY_MS) },
    ]);
    const dead = await run([
      {
        event_id: 'ref-1',
        user_id: 'rita',
        event_type: 'refund',
        amount: 100,
        original_event_id: 'buy-old',
        timestamp: iso(now),
      },
      {
        event_id: 'ref-2',
        user_id: 'rita',
        event_type: 'refund',
        amount: 50,
        original_event_id: 'buy-new',
        timestamp: iso(now),
      },
      {
        event_id: 'ref-3',
        user_id: 'rita',
        event_type: 'refund',
        amount: 50,
        original_event_id: 'never-bought',
        timestamp: iso(now),
      },
      // Pending (same flush) purchase, refunded 12 days later.
      { event_id: 'buy-pend', user_id: 'rita', event_type: 'purchase', amount: 10, timestamp: iso(now - 12 * DAY_MS) },
      {
        event_id: 'ref-4',
        user_id: 'rita',
        event_type: 'refund',
        amount: 10,
        original_event_id: 'buy-pend',
        timestamp: iso(now),
      },
    ]);
    expect(dead).toEqual({ refund_window_passed: 2, unknown_purchase: 1 });
    expect((await ledgerRow('ref-2'))?.status).toBe('applied');
    const bal = await db.pool.query<{ points: string }>("SELECT points FROM balances WHERE user_id = 'rita'");
    // 100 + 100 + 10 earned (weekday or weekend, the rules file has no multipliers), 50 taken back by ref-2.
    expect(Number(bal.rows[0]!.points)).toBe(160);
  });

  it('the duplicate lookup reads only the partitions inside idempotency_window', async () => {
    await db.pool.query('SELECT ledger_ensure_partitions($1::date, $2::date)', [
      iso(now - 30 * DAY_MS).slice(0, 10),
      iso(now + 6 * DAY_MS).slice(0, 10),
    ]);
    const all = await listLedgerPartitions(db.pool);
    expect(all.length).toBeGreaterThan(30);
    // Two events a day apart, window 2 days: from 2 days before the first to 2 days after the second.
    const q = factsStatement({
      users: ['lara', 'lara'],
      ids: ['late-1', 'x'],
      atMs: [now, now - DAY_MS],
      windowMs: 2 * DAY_MS,
    });
    const plan = await db.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.text}`, q.values);
    const scanned = plan.rows
      .map((r) => /point_transactions_\d{8}/.exec(r['QUERY PLAN'])?.[0])
      .filter((x) => x !== undefined);
    const days = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    const expected = days(utcDay(now - 3 * DAY_MS), utcDay(now + 2 * DAY_MS)).map(partitionName);
    expect([...new Set(scanned)].sort()).toEqual(expected.sort());
  });

  it("a duplicate check the recent-ids summary places on a day reads that day's partition only, and finds the id", async () => {
    const first = now - 3 * DAY_MS;
    await run([{ event_id: 'dup-1', user_id: 'nora', event_type: 'purchase', amount: 9, timestamp: iso(first) }]);
    // The next actor loads nora's summary from her balance row, and records what it asks the ledger.
    const asked: { text: string; values: unknown[] }[] = [];
    const query = db.pool.query.bind(db.pool);
    const spy = (q: unknown, v?: unknown): unknown => {
      if (typeof q === 'object' && q !== null && 'text' in q) asked.push(q as { text: string; values: unknown[] });
      return (query as (a: unknown, b?: unknown) => unknown)(q, v);
    };
    db.pool.query = spy as typeof db.pool.query;
    try {
      expect(
        await run([
          { event_id: 'dup-1', user_id: 'nora', event_type: 'purchase', amount: 9, timestamp: iso(now - DAY_MS) },
        ]),
      ).toEqual({});
    } finally {
      db.pool.query = query;
    }
    const rows = await db.pool.query<{ status: string }>(
      "SELECT status FROM point_transactions WHERE user_id = 'nora' ORDER BY kafka_offset",
    );
    expect(rows.rows.map((r) => r.status)).toEqual(['applied', 'duplicate']);
    const facts = asked.filter((q) => q.text.includes('duplicate ids'));
    expect(facts.map((q) => /\/\* (.*) \*\//.exec(q.text)?.[1])).toEqual(['recent duplicate ids']);
    // From the first event's day to its end: one partition, not the window's four days.
    const day = utcDay(first);
    expect(facts[0]!.values.slice(2)).toEqual([new Date(day * DAY_MS), new Date((day + 1) * DAY_MS - 1)]);
  });

  it('a repeated id within the window is a duplicate; the same id outside it is applied again', async () => {
    await run([
      { event_id: 'again', user_id: 'dora', event_type: 'purchase', amount: 7, timestamp: iso(now - 10 * DAY_MS) },
    ]);
    await run([
      { event_id: 'again', user_id: 'dora', event_type: 'purchase', amount: 7, timestamp: iso(now - 9 * DAY_MS) },
    ]);
    await run([
      { event_id: 'again', user_id: 'dora', event_type: 'purchase', amount: 7, timestamp: iso(now - 5 * DAY_MS) },
    ]);
    const rows = await db.pool.query<{ status: string }>(
      "SELECT status FROM point_transactions WHERE user_id = 'dora' ORDER BY kafka_offset",
    );
    expect(rows.rows.map((r) => r.status)).toEqual(['applied', 'duplicate', 'applied']);
    // 2.5 days apart, both read by the lookup (it reads whole days around each event's day): the window itself decides.
    const later = (utcDay(now) - 3) * DAY_MS + 0.9 * DAY_MS;
    await run([
      { event_id: 'again2', user_id: 'dora', event_type: 'purchase', amount: 7, timestamp: iso(later - 2.5 * DAY_MS) },
    ]);
    await run([{ event_id: 'again2', user_id: 'dora', event_type: 'purchase', amount: 7, timestamp: iso(later) }]);
    const rows2 = await db.pool.query<{ status: string }>(
      "SELECT status FROM point_transactions WHERE event_id = 'again2' ORDER BY kafka_offset",
    );
    expect(rows2.rows.map((r) => r.status)).toEqual(['applied', 'applied']);
  });
});
