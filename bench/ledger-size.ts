import pg from 'pg';
import { withDatabase } from '../tools/stack/postgres-server.js';

export interface LedgerSize {
  rows: number;
  tableBytes: number;
  indexBytes: number;
  /** Per ledger row: what one event costs the ledger on disk. */
  tablePerRow: number;
  indexPerRow: number;
}

/** The ledger's size on disk over all its partitions (or the one table of a pre-partitioning schema). */
export async function ledgerSize(pool: pg.Pool): Promise<LedgerSize> {
  const r = await pool.query<{ rows: string; tbl: string; idx: string }>(
    `WITH rels AS (
       SELECT inhrelid AS oid FROM pg_inherits WHERE inhparent = 'point_transactions'::regclass
       UNION ALL SELECT 'point_transactions'::regclass::oid WHERE NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'point_transactions'::regclass)
     )
     SELECT (SELECT count(*) FROM point_transactions) AS rows, coalesce(sum(pg_relation_size(oid)), 0) AS tbl, coalesce(sum(pg_indexes_size(oid)), 0) AS idx FROM rels`,
  );
  const row = r.rows[0]!;
  const rows = Number(row.rows);
  return {
    rows,
    tableBytes: Number(row.tbl),
    indexBytes: Number(row.idx),
    tablePerRow: Number(row.tbl) / rows,
    indexPerRow: Number(row.idx) / rows,
  };
}

export const formatLedgerSize = (s: LedgerSize): string =>
  `ledger ${s.rows} rows: table ${(s.tableBytes / 2 ** 20).toFixed(1)} MiB + indexes ${(s.indexBytes / 2 ** 20).toFixed(1)} MiB = ` +
  `${s.tablePerRow.toFixed(1)} + ${s.indexPerRow.toFixed(1)} = ${(s.tablePerRow + s.indexPerRow).toFixed(1)} bytes per row`;

/** ledgerSize of a database by name, on a connection of its own. */
export async function ledgerSizeOf(adminUrl: string, db: string): Promise<LedgerSize> {
  const pool = new pg.Pool({ connectionString: withDatabase(adminUrl, db), max: 1 });
  try {
    return await ledgerSize(pool);
  } finally {
    await pool.end();
  }
}
