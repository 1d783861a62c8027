import type pg from 'pg';
import path from 'node:path';
import { archiveFileName, archivePartition } from './ledger-archive.js';
import { DAY_MS, listLedgerPartitions } from './ledger-partitions.js';

export interface RetentionSettings {
  retentionMs: number;
  /** When set, a partition is archived here before it is dropped; a failed archive keeps the partition. */
  archiveDir?: string | undefined;
}

export interface RetentionOutcome {
  dropped: { partition: string; archive: string | null }[];
  failed: { partition: string; error: string }[];
  /** False when another engine held the retention lock (it does the work). */
  ran: boolean;
}

// One engine at a time drops partitions; the others skip the round.
const RETENTION_LOCK = 0x1ed9_e4;

/**
 * Drops the ledger partitions whose whole day is older than the retention (archiving each first when
 * an archive directory is set). Each partition in its own transaction: locked against writes, archived,
 * dropped, committed, so no row leaves the ledger without its archive file having been written.
 */
export async function dropExpiredPartitions(
  pool: pg.Pool,
  s: RetentionSettings,
  nowMs = Date.now(),
): Promise<RetentionOutcome> {
  const out: RetentionOutcome = { dropped: [], failed: [], ran: false };
  const lock = await pool.connect();
  try {
    const locked = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [RETENTION_LOCK]);
    if (locked.rows[0]?.ok !== true) return out;
    out.ran = true;
    try {
      for (const p of await listLedgerPartitions(lock)) {
        if ((p.day + 1) * DAY_MS > nowMs - s.retentionMs) break; // oldest first: the rest are younger
        const error = await dropPartition(pool, p.name, s.archiveDir);
        if (error === null)
          out.dropped.push({
            partition: p.name,
            archive: s.archiveDir !== undefined ? path.join(s.archiveDir, archiveFileName(p.name)) : null,
          });
        else out.failed.push({ partition: p.name, error });
      }
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK]).catch(() => undefined);
    }
  } finally {
    lock.release();
  }
  return out;
}

/** One partition: locked against writes, archived (when a directory is set), dropped, committed. Returns the error, or null. */
async function dropPartition(pool: pg.Pool, name: string, archiveDir: string | undefined): Promise<string | null> {
  const client = await pool.connect();
  let failure: string | null = null;
  try {
    await client.query('BEGIN');
    // Dropping takes an exclusive lock on the parent: wait briefly, never queue flushes behind it for long.
    await client.query("SET LOCAL lock_timeout = '2s'");
    await client.query(`LOCK TABLE ${client.escapeIdentifier(name)} IN SHARE MODE`);
    if (archiveDir !== undefined) await archivePartition(client, name, archiveDir);
    await client.query(`DROP TABLE ${client.escapeIdentifier(name)}`);
    await client.query('COMMIT');
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  } finally {
    // A failed archive may leave the connection inside COPY OUT: close it (Postgres rolls back) rather than reuse it.
    client.release(failure !== null);
  }
  return failure;
}

/** The start-up check: retention shorter than a window would drop rows a check still needs. Returns the error, or null. */
export function retentionProblem(
  retentionMs: number,
  windows: { idempotencyWindowMs: number; refundWindowMs: number },
): string | null {
  const days = (ms: number): string => `${+(ms / DAY_MS).toFixed(3)}d`;
  const short: string[] = [];
  if (retentionMs < windows.idempotencyWindowMs)
    short.push(`idempotency_window (${days(windows.idempotencyWindowMs)})`);
  if (retentionMs < windows.refundWindowMs) short.push(`refund_window (${days(windows.refundWindowMs)})`);
  if (short.length === 0) return null;
  return `LEDGER_RETENTION (${days(retentionMs)}) is shorter than the rules file's ${short.join(' and ')}: the ledger would drop rows those checks read; raise LEDGER_RETENTION or shorten the window`;
}
