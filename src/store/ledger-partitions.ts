import type pg from 'pg';

/**
 * The ledger's daily partitions (UTC days of event time, see sql/003_ledger_partitioned.sql):
 * created ahead of need by the engine, and on demand by a flush whose rows fall on a day
 * without one (a late or pre-dated event), before its COPY.
 */

export const DAY_MS = 86_400_000;
const NAME = /^point_transactions_(\d{4})(\d{2})(\d{2})$/;

/** Days since 1970-01-01 (UTC) of a time. */
export const utcDay = (ms: number): number => Math.floor(ms / DAY_MS);
const isoDate = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

export const partitionName = (day: number): string => `point_transactions_${isoDate(day).replaceAll('-', '')}`;

/** Days this thread has seen a partition for: a flush asks Postgres only about the others. */
const known = new Set<number>();

/** Creates the partitions of the given days that are missing (in one call per run of consecutive days); returns how many were created. */
export async function ensureLedgerPartitions(db: pg.Pool | pg.PoolClient, days: Iterable<number>): Promise<number> {
  const missing = [...new Set(days)].filter((d) => !known.has(d)).sort((a, b) => a - b);
  let created = 0;
  for (let i = 0; i < missing.length;) {
    let j = i;
    while (j + 1 < missing.length && missing[j + 1] === missing[j]! + 1) j++;
    const r = await db.query<{ n: number }>('SELECT ledger_ensure_partitions($1::date, $2::date) AS n', [
      isoDate(missing[i]!),
      isoDate(missing[j]!),
    ]);
    created += r.rows[0]?.n ?? 0;
    for (let k = i; k <= j; k++) known.add(missing[k]!);
    i = j + 1;
  }
  return created;
}

/** Forget what this thread knows (a partition it knew may have been dropped by retention). */
export function forgetLedgerPartitions(): void {
  known.clear();
}

/** True for Postgres' "no partition of relation ... found for row" (a day whose partition is gone). */
export function isMissingPartition(e: unknown): boolean {
  return (
    typeof e === 'object' &&
    e !== null &&
    (e as { code?: unknown }).code === '23514' &&
    /no partition/.test(String((e as { message?: unknown }).message))
  );
}

export interface LedgerPartition {
  name: string;
  day: number;
}

/** The ledger's daily partitions, oldest first. */
export async function listLedgerPartitions(db: pg.Pool | pg.PoolClient): Promise<LedgerPartition[]> {
  const r = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'point_transactions'::regclass`,
  );
  const out: LedgerPartition[] = [];
  for (const { name } of r.rows) {
    const m = NAME.exec(name);
    if (m) out.push({ name, day: utcDay(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) });
  }
  return out.sort((a, b) => a.day - b.day);
}
