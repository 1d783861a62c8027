import type pg from 'pg';
import { NEVER } from './lot-times.js';

/*
 * point_lots (sql/005_point_lots.sql) in SQL: moments cross as whole milliseconds (bigint), never as
 * text or floating seconds, so a lot's key reads back exactly as it was written. A lot that never
 * expires is NULL on the wire and 'infinity' in the table.
 */

/** SQL for a bigint ms parameter (NULL: never) as timestamptz. */
export const msToTs = (p: string): string =>
  `COALESCE('epoch'::timestamptz + ${p} * interval '1 millisecond', 'infinity')`;
/** SQL for a timestamptz column as bigint ms (NULL for infinity). */
export const tsToMs = (c: string): string =>
  `CASE WHEN isfinite(${c}) THEN (extract(epoch FROM ${c}) * 1000)::bigint END`;

/** The event_id of `expire` ledger rows: empty, which no event can have (decode refuses it), so no duplicate check ever finds one. */
export const EXPIRE_EVENT_ID = '';

/** ms as a query parameter: NULL for NEVER. */
export const msParam = (ms: number): number | null => (ms === NEVER ? null : ms);
const msValue = (v: string | null): number => (v === null ? NEVER : Number(v));

export interface StoredLot {
  available: number;
  expiry: number;
  remaining: number;
}

/** The open lots of some users, in one query. */
export async function loadLots(pool: pg.Pool, userIds: string[]): Promise<Map<string, StoredLot[]>> {
  const out = new Map<string, StoredLot[]>();
  if (userIds.length === 0) return out;
  const r = await pool.query<{ user_id: string; a: string; e: string | null; remaining: string }>(
    `SELECT user_id, ${tsToMs('available_at')} AS a, ${tsToMs('expires_at')} AS e, remaining
     FROM point_lots WHERE user_id = ANY($1::text[])`,
    [userIds],
  );
  for (const row of r.rows) {
    const list = out.get(row.user_id) ?? [];
    list.push({ available: Number(row.a), expiry: msValue(row.e), remaining: Number(row.remaining) });
    out.set(row.user_id, list);
  }
  return out;
}

/** What a flush writes to point_lots for the users it holds: column arrays (one unnest per statement). */
export class LotChanges {
  users: string[] = [];
  available: number[] = [];
  expiry: (number | null)[] = [];
  /** 0: delete the row. */
  remaining: number[] = [];

  add(userId: string, available: number, expiry: number, remaining: number): void {
    this.users.push(userId);
    this.available.push(available);
    this.expiry.push(msParam(expiry));
    this.remaining.push(remaining);
  }

  get length(): number {
    return this.users.length;
  }
}

const KEYS = `unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS c(u, a, e, r)`;
const DELETE_SQL = `DELETE FROM point_lots l USING ${KEYS}
  WHERE c.r = 0 AND l.user_id = c.u AND l.available_at = ${msToTs('c.a')} AND l.expires_at = ${msToTs('c.e')}`;
const UPSERT_SQL = `INSERT INTO point_lots (user_id, available_at, expires_at, remaining, partition)
  SELECT c.u, ${msToTs('c.a')}, ${msToTs('c.e')}, c.r, $5 FROM ${KEYS} WHERE c.r > 0
  ON CONFLICT (user_id, available_at, expires_at) DO UPDATE SET remaining = EXCLUDED.remaining`;

/** Writes the held users' lot changes: deletes of emptied lots first, then new and changed lots. */
export async function writeLotChanges(client: pg.PoolClient, partition: number, c: LotChanges): Promise<void> {
  if (c.length === 0) return;
  const values = [c.users, c.available, c.expiry, c.remaining];
  if (c.remaining.includes(0)) await client.query(DELETE_SQL, values);
  if (c.remaining.some((r) => r > 0)) await client.query(UPSERT_SQL, [...values, partition]);
}

/**
 * The distinct expiry moments (ms) of the partition's lots due at `clock`: the ledger days expireDue
 * may write. One index probe per moment (a loose index scan), not a pass over the due lots.
 */
export async function expiringMoments(db: pg.PoolClient, partition: number, clock: number): Promise<number[]> {
  const due = `partition = $1 AND expires_at <= ${msToTs('$2::bigint')}`;
  const r = await db.query<{ e: string }>(
    `WITH RECURSIVE m(at) AS (
       (SELECT expires_at FROM point_lots WHERE ${due} ORDER BY expires_at LIMIT 1)
       UNION ALL
       SELECT (SELECT expires_at FROM point_lots WHERE ${due} AND expires_at > m.at ORDER BY expires_at LIMIT 1)
       FROM m WHERE m.at IS NOT NULL
     )
     SELECT ${tsToMs('at')} AS e FROM m WHERE at IS NOT NULL`,
    [partition, clock],
  );
  return r.rows.map((x) => Number(x.e));
}

/** What one bounded expiry in SQL did; `more`: it reached its bound, so due lots may remain. */
export interface SqlExpiry {
  points: number;
  lots: number;
  more: boolean;
}

/**
 * Expires, in SQL, lots of the partition due at `clock` that the flush did not write itself: those
 * of users the actor does not hold (it settled and wrote the rest first). Bounded: the users of the
 * first `maxLots` due lots in expiry order, each with all its due lots, so that one flush does
 * bounded work and each user's rows and balance stay whole. One `expire` ledger row per user and
 * expiry moment, at the user's last offset (its latest event: no other row of the user there has
 * the same event time, as the expiry is after the clock of that event), balances lowered.
 */
export async function expireDue(
  client: pg.PoolClient,
  partition: number,
  clock: number,
  rulesVersionId: number,
  maxLots: number,
): Promise<SqlExpiry> {
  const r = await client.query<{ points: string | null; lots: string | null; picked: string }>(
    `WITH first AS MATERIALIZED (
       SELECT user_id FROM point_lots WHERE partition = $1 AND expires_at <= ${msToTs('$2::bigint')}
       ORDER BY expires_at LIMIT $4
     ), pick AS (
       SELECT DISTINCT user_id FROM first
     ), gone AS (
       DELETE FROM point_lots l USING pick
       WHERE l.user_id = pick.user_id AND l.partition = $1 AND l.expires_at <= ${msToTs('$2::bigint')}
       RETURNING l.user_id, l.expires_at, l.remaining
     ), per AS (
       SELECT user_id, expires_at, sum(remaining)::bigint AS pts, count(*) AS lots FROM gone GROUP BY 1, 2
     ), tot AS (
       SELECT user_id, sum(pts)::bigint AS total FROM per GROUP BY 1
     ), upd AS (
       UPDATE balances b SET points = b.points - tot.total, updated_at = now() FROM tot
       WHERE b.user_id = tot.user_id RETURNING b.user_id, b.points, b.last_offset
     ), rows AS (
       INSERT INTO point_transactions (event_time, kafka_offset, points, balance_after, partition, rules_version_id,
                                       event_type, status, user_id, event_id)
       SELECT per.expires_at, upd.last_offset, -per.pts,
              -- rows in time order: each one's balance after is the final balance plus what expired later
              upd.points + sum(per.pts) OVER (PARTITION BY per.user_id ORDER BY per.expires_at DESC) - per.pts,
              $1, $3, 'expire', 'applied', per.user_id, '${EXPIRE_EVENT_ID}'
       FROM per JOIN upd USING (user_id)
       RETURNING points
     )
     SELECT (SELECT -sum(points) FROM rows) AS points, (SELECT sum(lots) FROM per) AS lots,
            (SELECT count(*) FROM first) AS picked`,
    [partition, clock, rulesVersionId, maxLots],
  );
  const row = r.rows[0];
  return {
    points: Number(row?.points ?? 0),
    lots: Number(row?.lots ?? 0),
    more: Number(row?.picked ?? 0) >= maxLots,
  };
}

/** True when lots of the partition are due at `clock` (a backlog a previous owner left). One index probe. */
export async function hasDueLots(pool: pg.Pool, partition: number, clock: number): Promise<boolean> {
  const r = await pool.query<{ due: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM point_lots WHERE partition = $1 AND expires_at <= ${msToTs('$2::bigint')}) AS due`,
    [partition, clock],
  );
  return r.rows[0]?.due === true;
}

/** Points of the partition's lots that became spendable in (from, to] and are not expired at `to` (a metric, counted once a day). */
export async function releasedPoints(
  client: pg.PoolClient,
  partition: number,
  from: number,
  to: number,
): Promise<number> {
  const r = await client.query<{ n: string | null }>(
    `SELECT sum(remaining) AS n FROM point_lots WHERE partition = $1 AND expires_at > ${msToTs('$3::bigint')}
       AND available_at > ${msToTs('$2::bigint')} AND available_at <= ${msToTs('$3::bigint')}`,
    [partition, from, to],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** Open lots of a partition (the open-lots gauge's starting value). */
export async function countLots(pool: pg.Pool, partition: number): Promise<number> {
  const r = await pool.query<{ n: string }>('SELECT count(*) AS n FROM point_lots WHERE partition = $1', [partition]);
  return Number(r.rows[0]?.n ?? 0);
}

/** One open lot as the API shows it. */
export interface LotItem {
  points: number;
  available_at: string;
  /** null: never expires. */
  expires_at: string | null;
  /** At the partition's clock: spendable, or not yet. */
  status: 'available' | 'pending';
}

/** The page key after a lot: its expiry (ms, or "never") and available moment (ms), e.g. "1767225600000.1765411200000". */
const CURSOR = /^(never|[0-9]{1,16})\.(-?[0-9]{1,16})$/;

export function parseLotCursor(text: string): { expiry: number; available: number } | null {
  const m = CURSOR.exec(text);
  if (m === null) return null;
  return { expiry: m[1] === 'never' ? NEVER : Number(m[1]), available: Number(m[2]) };
}

const lotCursor = (expiry: number, available: number): string => `${expiry === NEVER ? 'never' : expiry}.${available}`;

const LOTS_COLUMNS = `${tsToMs('p.available_at')} AS a, ${tsToMs('p.expires_at')} AS e, p.remaining, ${tsToMs('c.clock')} AS clock
  FROM point_lots p, LATERAL (
    SELECT max(o.clock) AS clock FROM consumer_offsets o WHERE o.partition = p.partition
  ) c`;

// A lot due at the stored clock is expired, even while its expire row waits for a flush (expireDue is bounded).
const NOT_DUE = '(c.clock IS NULL OR p.expires_at > c.clock)';

/**
 * A page of a user's open lots in spend order (expiry, then available moment), after `after` when
 * given. `next` is the cursor of the page's last lot when more follow.
 */
export async function readLotsPage(
  pool: pg.Pool,
  userId: string,
  limit: number,
  after: { expiry: number; available: number } | null,
): Promise<{ items: LotItem[]; next: string | null }> {
  const r = await pool.query<{ a: string; e: string | null; remaining: string; clock: string | null }>(
    after === null
      ? `SELECT ${LOTS_COLUMNS} WHERE p.user_id = $1 AND ${NOT_DUE} ORDER BY p.expires_at, p.available_at LIMIT $2`
      : `SELECT ${LOTS_COLUMNS} WHERE p.user_id = $1 AND ${NOT_DUE} AND (p.expires_at, p.available_at) > (${msToTs('$3::bigint')}, ${msToTs('$4::bigint')})
         ORDER BY p.expires_at, p.available_at LIMIT $2`,
    after === null ? [userId, limit + 1] : [userId, limit + 1, msParam(after.expiry), after.available],
  );
  const items = r.rows.slice(0, limit).map((x) => {
    const clock = x.clock === null ? Infinity : Number(x.clock);
    return {
      points: Number(x.remaining),
      available_at: new Date(Number(x.a)).toISOString(),
      expires_at: x.e === null ? null : new Date(Number(x.e)).toISOString(),
      status: Number(x.a) <= clock ? ('available' as const) : ('pending' as const),
    };
  });
  const last = r.rows[limit - 1];
  const next = r.rows.length > limit && last !== undefined ? lotCursor(msValue(last.e), Number(last.a)) : null;
  return { items, next };
}
