import type pg from 'pg';

/** One ledger row as the history API shows it. */
export interface HistoryItem {
  event_id: string;
  event_type: string;
  points: number;
  balance_after: number;
  status: string;
  reason: string | null;
  event_time: string;
  partition: number;
  offset: number;
  rules_version: string;
}

interface LedgerRow {
  event_id: string;
  event_type: string;
  points: string;
  balance_after: string;
  status: string;
  reason: string | null;
  event_time: Date;
  partition: number;
  kafka_offset: string;
  rules_version: string;
}

// A user's events all live in one partition (key = user_id), so the offset alone orders them; ordering by
// (partition, kafka_offset DESC) follows the index (user_id, partition, kafka_offset DESC) with no sort.
// The ledger keeps a rules version's id; its text is in rules_versions.
const COLUMNS = `event_id, event_type, points, balance_after, status, reason, event_time, partition, kafka_offset, v.version AS rules_version
  FROM point_transactions t JOIN rules_versions v ON v.id = t.rules_version_id`;
// Under a lifecycle block one offset may hold several rows (an event's, then `expire` rows, docs/lifecycle.md):
// within an offset they follow the index (event time ascending: the event, then what expired after it), and a
// page never ends inside an offset (see readHistory).
const HISTORY_SQL = `SELECT ${COLUMNS} WHERE user_id = $1 ORDER BY partition, kafka_offset DESC, event_time LIMIT $2`;
const HISTORY_BEFORE_SQL = `SELECT ${COLUMNS} WHERE user_id = $1 AND kafka_offset < $3 ORDER BY partition, kafka_offset DESC, event_time LIMIT $2`;
const OFFSET_SQL = `SELECT ${COLUMNS} WHERE user_id = $1 AND kafka_offset = $2 ORDER BY event_time`;

/**
 * A page of a user's ledger, newest first, below offset `before` when given. `items` is null for a user
 * the engine has never seen (no ledger rows and no balance); `next` is the offset to ask below for the next page.
 */
export async function readHistory(
  pool: pg.Pool,
  userId: string,
  limit: number,
  before: number | null,
): Promise<{ items: HistoryItem[] | null; next: number | null }> {
  // One row more than asked says whether there is a next page.
  const r =
    before === null
      ? await pool.query<LedgerRow>(HISTORY_SQL, [userId, limit + 1])
      : await pool.query<LedgerRow>(HISTORY_BEFORE_SQL, [userId, limit + 1, before]);
  // No rows: an unknown user, or a known one past the end of the ledger (an empty page).
  if (
    r.rows.length === 0 &&
    (await pool.query('SELECT 1 FROM balances WHERE user_id = $1', [userId])).rows.length === 0
  ) {
    return { items: null, next: null };
  }
  let rows = r.rows.slice(0, limit);
  let next: number | null = r.rows.length > limit ? Number(rows[rows.length - 1]!.kafka_offset) : null;
  const cut = r.rows[limit];
  if (cut !== undefined && cut.kafka_offset === rows[rows.length - 1]!.kafka_offset) {
    // The page would end inside an offset, and `before` (an offset) would skip the rest of it: end the page
    // before that offset instead, or, if it is the whole page, give all of that offset's rows.
    const whole = rows.filter((x) => x.kafka_offset !== cut.kafka_offset);
    if (whole.length > 0) {
      rows = whole;
      next = Number(whole[whole.length - 1]!.kafka_offset);
    } else rows = (await pool.query<LedgerRow>(OFFSET_SQL, [userId, cut.kafka_offset])).rows;
  }
  const items = rows.map((x) => ({
    event_id: x.event_id,
    event_type: x.event_type,
    points: Number(x.points),
    balance_after: Number(x.balance_after),
    status: x.status,
    reason: x.reason,
    event_time: x.event_time.toISOString(),
    partition: x.partition,
    offset: Number(x.kafka_offset),
    rules_version: x.rules_version,
  }));
  return { items, next };
}
