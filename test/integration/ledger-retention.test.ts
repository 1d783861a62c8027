import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { archiveFileName } from '../../src/store/ledger-archive.js';
import { DAY_MS, listLedgerPartitions, partitionName, utcDay } from '../../src/store/ledger-partitions.js';
import { dropExpiredPartitions } from '../../src/store/ledger-retention.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

const RETENTION = 90 * DAY_MS;
const today = utcDay(Date.now());
const isoDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

describe('ledger retention and archive', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const dirs: string[] = [];
  const tmpDir = (): string => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'ledger-archive-'));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    db = await migratedDatabase();
    await db.pool.query("INSERT INTO rules_versions (version) VALUES ('test-rules')");
    await db.pool.query(
      "INSERT INTO balances (user_id, points, lifetime_earned, last_partition, last_offset) VALUES ('keeper', 1234, 5678, 0, 0)",
    );
  });
  afterAll(async () => {
    for (const d of dirs) {
      try {
        execFileSync('umount', [d], { stdio: 'ignore' });
      } catch {
        /* not a mount */
      }
      rmSync(d, { recursive: true, force: true });
    }
    await db.drop();
  });

  /** A partition of `day` holding `rows` ledger rows of a few users (made in SQL, as an old installation's would be). */
  async function oldDay(day: number, rows: number): Promise<void> {
    await db.pool.query('SELECT ledger_ensure_partitions($1::date, $1::date)', [isoDay(day)]);
    await db.pool.query(
      `INSERT INTO point_transactions (event_time, kafka_offset, points, balance_after, partition, rules_version_id, event_type, status, user_id, event_id, amount, original_event_id, reason)
       SELECT $1::date + (i % 86400) * interval '1 second', i, i % 50, i, i % 12, (SELECT id FROM rules_versions LIMIT 1),
              (ARRAY['purchase','redeem','refund','adjust'])[1 + i % 4]::ledger_event_type, (ARRAY['applied','rejected','duplicate'])[1 + i % 3]::ledger_status,
              'user-' || (i % 97), 'e-' || $1 || '-' || i, CASE WHEN i % 5 = 0 THEN NULL ELSE (i % 1000) / 7.0 END,
              CASE WHEN i % 4 = 2 THEN 'orig-' || i END, CASE WHEN i % 3 = 1 THEN 'tab\there "quoted" \\ back' END
       FROM generate_series(1, $2::int) AS i`,
      [isoDay(day), rows],
    );
  }
  const snapshot = async (table: string): Promise<unknown[]> =>
    (await db.pool.query(`SELECT * FROM ${table} ORDER BY kafka_offset`)).rows;

  beforeEach(async () => {
    for (const p of await listLedgerPartitions(db.pool)) await db.pool.query(`DROP TABLE ${p.name}`);
  });

  it('archives each partition older than the retention, drops it, and the archive restores every row; younger ones and balances stay', async () => {
    const old = today - 95;
    await oldDay(old, 5000);
    await oldDay(today - 92, 10);
    await oldDay(today - 10, 10);
    const before = await snapshot(partitionName(old));
    const dir = tmpDir();

    const r = await dropExpiredPartitions(db.pool, { retentionMs: RETENTION, archiveDir: dir });

    expect(r.failed).toEqual([]);
    expect(r.dropped.map((d) => d.partition)).toEqual([partitionName(old), partitionName(today - 92)]);
    expect((await listLedgerPartitions(db.pool)).map((p) => p.day)).toEqual([today - 10]);
    expect(readdirSync(dir).sort()).toEqual([
      archiveFileName(partitionName(old)),
      archiveFileName(partitionName(today - 92)),
    ]);
    const bal = await db.pool.query('SELECT points, lifetime_earned FROM balances WHERE user_id = $1', ['keeper']);
    expect(bal.rows).toEqual([{ points: '1234', lifetime_earned: '5678' }]);

    // Restore: gunzip + COPY FROM into a scratch table shaped like the ledger.
    await db.pool.query('CREATE TABLE restored (LIKE point_transactions)');
    const client = await db.pool.connect();
    try {
      await pipeline(
        createReadStream(path.join(dir, archiveFileName(partitionName(old)))),
        createGunzip(),
        client.query(copyFrom('COPY restored FROM STDIN')),
      );
    } finally {
      client.release();
    }
    const after = await snapshot('restored');
    expect(after).toHaveLength(5000);
    expect(after).toEqual(before);
  });

  it('without an archive directory, expired partitions are simply dropped', async () => {
    await oldDay(today - 100, 10);
    const r = await dropExpiredPartitions(db.pool, { retentionMs: RETENTION });
    expect(r.dropped).toEqual([{ partition: partitionName(today - 100), archive: null }]);
    expect(await listLedgerPartitions(db.pool)).toEqual([]);
  });

  it('an archive directory that cannot be written keeps the partition and reports the error', async () => {
    await oldDay(today - 100, 10);
    const missing = path.join(tmpDir(), 'no', 'such', 'dir');
    const r = await dropExpiredPartitions(db.pool, { retentionMs: RETENTION, archiveDir: missing });
    expect(r.dropped).toEqual([]);
    expect(r.failed).toEqual([{ partition: partitionName(today - 100), error: expect.stringMatching(/ENOENT/) }]);
    expect((await listLedgerPartitions(db.pool)).map((p) => p.day)).toEqual([today - 100]);
    // Fixed, the next round archives and drops it.
    mkdirSync(missing, { recursive: true });
    const again = await dropExpiredPartitions(db.pool, { retentionMs: RETENTION, archiveDir: missing });
    expect(again.dropped.map((d) => d.partition)).toEqual([partitionName(today - 100)]);
    expect(existsSync(path.join(missing, archiveFileName(partitionName(today - 100))))).toBe(true);
  });

  it('a full archive disk keeps the partition and leaves no partial file under the archive name', async (ctx) => {
    const dir = tmpDir();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', dir], { stdio: 'ignore' });
    } catch {
      ctx.skip(); // needs root (mounting a tiny tmpfs); the missing-directory case above covers the same path
    }
    await oldDay(today - 100, 20_000);
    const r = await dropExpiredPartitions(db.pool, { retentionMs: RETENTION, archiveDir: dir });
    expect(r.dropped).toEqual([]);
    expect(r.failed).toEqual([{ partition: partitionName(today - 100), error: expect.stringMatching(/ENOSPC/) }]);
    expect(readdirSync(dir)).toEqual([]);
    const n = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${partitionName(today - 100)}`);
    expect(Number(n.rows[0]!.n)).toBe(20_000);
  });
});
