import type pg from 'pg';

/**
 * The recent-ids entry of a ledger row (sql/007), relative to the day in parameter `$from`: the SQL
 * twin of RecentIds' entries. The engine hashes the same text with pgHashText.
 */
const entry = (from: string): string =>
  `int4send(((floor(extract(epoch FROM event_time) / 86400)::int - ${from}) << 24) | (hashtext(user_id || '/' || event_id) & 16777215))`;

/** The rows a duplicate check can find: not duplicates, and not the id-less `expire` rows. */
const FINDABLE = `status <> 'duplicate' AND event_id <> ''`;

/**
 * What the summary of these users holds from UTC day `fromDay` on, read from the ledger: for users
 * whose balance row has none yet (written before sql/007). One read per user, then kept by the engine.
 */
export async function readRecentIds(pool: pg.Pool, userIds: string[], fromDay: number): Promise<Map<string, Buffer>> {
  const r = await pool.query<{ user_id: string; ids: Buffer }>(
    `SELECT user_id, string_agg(${entry('$2::int')}, ''::bytea) AS ids FROM point_transactions
     WHERE user_id = ANY($1::text[]) AND event_time >= 'epoch'::timestamptz + $2::int * interval '1 day' AND ${FINDABLE}
     GROUP BY user_id`,
    [userIds, fromDay],
  );
  return new Map(r.rows.map((x) => [x.user_id, x.ids]));
}

/** Writes every user's summary from UTC day `fromDay` on, from the ledger (a database filled in SQL, not by the engine). */
export async function rebuildAllRecentIds(client: pg.Pool | pg.PoolClient, fromDay: number): Promise<void> {
  await client.query(
    `UPDATE balances b SET recent_from = $1::int, recent_ids = COALESCE(k.ids, ''::bytea)
     FROM balances b2 LEFT JOIN (
       SELECT user_id, string_agg(${entry('$1::int')}, ''::bytea) AS ids FROM point_transactions
       WHERE event_time >= 'epoch'::timestamptz + $1::int * interval '1 day' AND ${FINDABLE} GROUP BY user_id
     ) k ON k.user_id = b2.user_id
     WHERE b.user_id = b2.user_id`,
    [fromDay],
  );
}
