import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listLedgerPartitions } from '../../src/store/ledger-partitions.js';
import { migrate, MIGRATIONS_DIR } from '../../src/store/migrations.js';
import { freshDatabase } from './support/stack.js';

const ROWS = 1_000_000;
const OLD = readdirSync(MIGRATIONS_DIR).filter((f) => /^00[12]_.+\.sql$/.test(f));

interface V1Row {
  kafka_offset: string;
  partition: number;
  event_id: string;
  user_id: string;
  event_type: string;
  points: string;
  balance_after: string;
  status: string;
  reason: string | null;
  event_time: Date;
  rules_version: string;
  amount: string | null;
  original_event_id: string | null;
}
const HISTORY =
  "SELECT event_id, partition, kafka_offset FROM point_transactions WHERE user_id = 'user-7' ORDER BY partition, kafka_offset DESC LIMIT 20";
const COLUMNS =
  'kafka_offset, partition, event_id, user_id, event_type, points, balance_after, status, reason, event_time, amount, original_event_id';

/** An installation made by the schema before partitioning (001 + 002), with a million ledger rows, upgraded in place. */
describe('upgrading an existing ledger to the partitioned one', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let oldDir: string;
  beforeAll(async () => {
    db = await freshDatabase();
    oldDir = mkdtempSync(path.join(os.tmpdir(), 'old-migrations-'));
    for (const f of OLD) copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(oldDir, f));
  });
  afterAll(async () => {
    rmSync(oldDir, { recursive: true, force: true });
    await db.drop();
  });

  it('keeps every row of a 1M-row ledger, in daily partitions, readable as before', async () => {
    expect(OLD).toHaveLength(2);
    expect(await migrate(db.pool, oldDir)).toEqual(OLD);
    // 40 days of events over 20k users and 12 partitions, two rules versions, every status, nulls and odd text.
    await db.pool.query(
      `INSERT INTO point_transactions (topic, partition, kafka_offset, event_id, user_id, event_type, points, balance_after, status, reason, event_time, rules_version, amount, original_event_id)
       SELECT 'loyalty-events', i % 12, i / 12, 'e-' || i, 'user-' || (i % 20000), (ARRAY['purchase','redeem','refund','adjust'])[1 + i % 4],
              i % 700, i, (ARRAY['applied','rejected','duplicate'])[1 + i % 3], CASE WHEN i % 3 = 1 THEN 'insufficient_balance' END,
              timestamptz '2026-10-01 00:00:00+00' + (i % 40) * interval '1 day' + (i % 86400) * interval '1 second',
              CASE WHEN i % 2 = 0 THEN 'aaaaaaaaaaaa' ELSE 'default-bbbbbbbbbbbb' END, CASE WHEN i % 5 <> 0 THEN (i % 100000) / 100.0 END,
              CASE WHEN i % 4 = 2 THEN 'e-' || (i - 2) END
       FROM generate_series(0, ${ROWS - 1}) AS i`,
    );
    const sampleSql = (from: string, version: string): string =>
      `SELECT ${COLUMNS}, ${version} AS rules_version FROM ${from} WHERE kafka_offset % 8191 = 3 ORDER BY partition, kafka_offset`;
    const before = (await db.pool.query<V1Row>(sampleSql('point_transactions', 'rules_version'))).rows;
    expect(before.length).toBeGreaterThan(100);
    const historyBefore = (await db.pool.query(HISTORY)).rows;
    expect(historyBefore).toHaveLength(20);

    // 003 first; later migrations (005 onwards) follow it on an upgrade from this schema.
    const applied = await migrate(db.pool);
    expect(applied[0]).toBe('003_ledger_partitioned.sql');
    expect(applied.filter((m) => m < '003')).toEqual([]);

    const n = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM point_transactions');
    expect(Number(n.rows[0]!.n)).toBe(ROWS);
    expect(await listLedgerPartitions(db.pool)).toHaveLength(40);
    const after = (
      await db.pool.query<V1Row>(
        sampleSql('point_transactions t JOIN rules_versions v ON v.id = t.rules_version_id', 'v.version'),
      )
    ).rows;
    expect(after).toEqual(before);
    // The history query's answer is unchanged, newest first.
    expect((await db.pool.query(HISTORY)).rows).toEqual(historyBefore);
    const counts = await db.pool.query<{ status: string; n: string }>(
      'SELECT status, count(*) AS n FROM point_transactions GROUP BY 1 ORDER BY 1',
    );
    expect(counts.rows.map((r) => [r.status, Number(r.n)])).toEqual([
      ['applied', 333334],
      ['rejected', 333333],
      ['duplicate', 333333],
    ]);
  }, 600_000);
});
