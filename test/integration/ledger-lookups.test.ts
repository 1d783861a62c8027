import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { factsStatement, outsideStatement } from '../../src/store/event-facts.js';
import { DAY_MS, utcDay } from '../../src/store/ledger-partitions.js';
import { sessionOptions } from '../../src/store/session-options.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

/**
 * How the duplicate lookup runs on a ledger with history: the plans that made a database with 15-20M rows in a
 * day fall behind (issue #13's soak) must not come back.
 */
describe('ledger lookups on a partition with history', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let engine: pg.Pool;
  const day = utcDay(Date.now());
  const dayStart = day * DAY_MS;
  beforeAll(async () => {
    db = await migratedDatabase();
    await db.pool.query("INSERT INTO rules_versions (version) VALUES ('t')");
    await db.pool.query('SELECT ledger_ensure_partitions($1::date, $1::date)', [
      new Date(dayStart).toISOString().slice(0, 10),
    ]);
    // Rows written the way a flush writes them: no ANALYZE afterwards, as when a day's partition fills faster
    // than autovacuum gets to it.
    await db.pool.query(
      `INSERT INTO point_transactions (event_time, kafka_offset, points, balance_after, partition, rules_version_id,
                                       event_type, status, user_id, event_id)
       SELECT $1::timestamptz + (i % 80000000) * interval '1 millisecond', i, 10, 10, i % 12, 1, 'purchase', 'applied',
              'user-' || (i % 50000), 'e-' || i
       FROM generate_series(1, 300000) AS i`,
      [new Date(dayStart).toISOString()],
    );
    engine = new pg.Pool({ connectionString: db.url, max: 1, options: sessionOptions(60_000) });
  });
  afterAll(async () => {
    await engine.end();
    await db.drop();
  });

  it("the engine's sessions run without JIT or parallel workers, with the flush timeouts and the dead-peer keepalive", async () => {
    const show = async (name: string): Promise<string> =>
      (await engine.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name]!;
    expect(await show('jit')).toBe('off');
    expect(await show('max_parallel_workers_per_gather')).toBe('0');
    expect(await show('statement_timeout')).toBe('1min');
    expect(await show('idle_in_transaction_session_timeout')).toBe('1min');
    expect(await show('tcp_keepalives_idle')).toBe('10');
  });

  it('the duplicate lookup is an index scan of the unanalysed partition, and finds what is there', async () => {
    const users = Array.from({ length: 2000 }, (_, i) => `user-${(i * 7) % 50000}`);
    const ids = users.map((_, i) => (i % 2 === 0 ? `e-${((i * 7) % 50000) + 50000}` : `missing-${i}`));
    const q = factsStatement({ users, ids, atMs: users.map(() => dayStart + 1000), windowMs: 7 * DAY_MS });
    const plan = (await engine.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.text}`, q.values)).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    expect(plan).toMatch(/Index Scan/);
    expect(plan).not.toMatch(/Seq Scan/);
    const found = await engine.query<{ user_id: string; event_id: string }>(q);
    // e-N belongs to user-(N % 50000): the even pairs name rows that exist, the odd ones do not.
    expect(found.rows.length).toBe(1000);
    expect(found.rows.every((r) => r.user_id === `user-${Number(r.event_id.slice(2)) % 50000}`)).toBe(true);
  });

  it('the ledger keeps one index, the history, and a lookup reads it, not the partition', async () => {
    // sql/009: every row paid for the event-key index; the lookups it served go through the history index.
    const indexes = await db.pool.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE tablename = 'point_transactions' ORDER BY 1",
    );
    expect(indexes.rows.map((r) => r.indexname)).toEqual(['point_transactions_history']);
    // user-7 holds e-7, e-50007, ...; user-8 does not hold e-7: a pair names that user's row, not the id's.
    const q = factsStatement({
      users: ['user-7', 'user-8'],
      ids: ['e-50007', 'e-7'],
      atMs: [dayStart + 1000, dayStart + 1000],
      windowMs: 7 * DAY_MS,
    });
    const plan = (await engine.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.text}`, q.values)).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    expect(plan).toMatch(/Index Scan (using|on) point_transactions_\d+_user_id_partition_kafka_offset/);
    const found = await engine.query<{ user_id: string; event_id: string }>(q);
    expect(found.rows.map((r) => `${r.user_id} ${r.event_id}`)).toEqual(['user-7 e-50007']);
  });

  it('the lookup outside the windows reads every partition through the history index, none sequentially', async () => {
    // A second, older day, so that the statement spans partitions (it names no time range).
    const older = new Date(dayStart - 10 * DAY_MS).toISOString();
    await db.pool.query('SELECT ledger_ensure_partitions($1::date, $1::date)', [older.slice(0, 10)]);
    await db.pool.query(
      `INSERT INTO point_transactions (event_time, kafka_offset, points, balance_after, partition, rules_version_id,
                                       event_type, status, user_id, event_id)
       SELECT $1::timestamptz + i * interval '500 milliseconds', 1000000 + i, 10, 10, i % 12, 1, 'purchase', 'applied',
              'user-' || (i % 50000), 'old-' || i
       FROM generate_series(1, 100000) AS i`,
      [older],
    );
    const users = Array.from({ length: 500 }, (_, i) => `user-${i}`);
    const q = outsideStatement(
      users,
      users.map((_, i) => (i === 3 ? 'old-3' : `nothing-${i}`)),
    );
    const plan = (await engine.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.text}`, q.values)).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    expect(plan).not.toMatch(/Seq Scan/);
    expect((plan.match(/Index Scan (using|on) point_transactions_\d+_user_id/g) ?? []).length).toBe(2);
    const found = await engine.query<{ user_id: string; event_id: string }>(q);
    expect(found.rows).toEqual([{ user_id: 'user-3', event_id: 'old-3' }]);
  });
});
