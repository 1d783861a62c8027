import type pg from 'pg';
import { DAY_MS } from './ledger-partitions.js';

/** A user's event id, as one string key: user and id cannot contain NUL. */
export const eventKey = (userId: string, eventId: string): string => `${userId}\u0000${eventId}`;

export interface LedgerFact {
  eventType: string;
  status: string;
  amount: number;
  points: number;
  eventTimeMs: number;
}

export interface RefundTotals {
  amountRefunded: number;
  pointsRefunded: number;
}

/** (user, event id) pairs, each with the event time its window is centred on. */
export interface PairLookup {
  users: string[];
  ids: string[];
  atMs: number[];
  windowMs: number;
}

/**
 * What the ledger already says about some (user, event id) pairs: earlier occurrences of given
 * ids (duplicate check, within idempotency_window) and the purchases refunds name (within
 * refund_window), with what was refunded of them. Each lookup reads only the daily partitions
 * within its pairs' windows.
 */
export interface FactsQuery {
  duplicates: PairLookup;
  /** Ids the recent-ids summary places on known UTC days [first, last] of their windows: read from those days only. */
  recentDuplicates: PairLookup & { days: [number, number] };
  purchases: PairLookup;
  /**
   * Purchases the recent-ids summary places on known UTC days [first, last]: read from those days first; those
   * not found there (a hash that matched another id) are asked about over their refund windows, as `purchases`.
   */
  recentPurchases: PairLookup & { days: [number, number] };
}

export interface EventFacts {
  facts: Map<string, LedgerFact[]>;
  refunds: Map<string, RefundTotals>;
  /** Purchases named by refunds that the ledger holds only outside the refund's window. */
  outsideWindow: Set<string>;
}

// Through the history index (sql/009: the ledger has no index on the id): the named users' rows on the days
// asked, filtered by `user/id`, a superset of the pairs asked ('a/b' + 'c' and 'a' + 'b/c' meet), which the caller
// narrows to the exact pairs. The users as an array built in the statement (an InitPlan), not a constant list:
// Postgres then plans an index scan whatever it thinks a partition holds, where a constant list of 2,000 users on a
// day's partition filling faster than autovacuum analyses it was planned as a sequential scan
// (test/integration/ledger-lookups.test.ts). The pairs as a constant: a hashed filter.
const KEYS = (u: number, k: number): string =>
  `user_id = ANY (ARRAY(SELECT DISTINCT unnest($${u}::text[]))) AND user_id || '/' || event_id = ANY ($${k}::text[])`;
const pairKeys = (users: string[], ids: string[]): string[] => users.map((u, i) => `${u}/${ids[i]!}`);
/** The exact pairs asked, as eventKeys: what a lookup's superset of rows is narrowed to. */
const askedKeys = (users: string[], ids: string[]): Set<string> => new Set(users.map((u, i) => eventKey(u, ids[i]!)));
const FACT_COLUMNS = 'user_id, event_id, event_type, status, amount, points, event_time';

/**
 * One statement over the union of the pairs' windows: [earliest - window, latest + window]. Postgres
 * prunes it to the daily partitions inside. (One branch per day of the batch, each with its own range,
 * read fewer partitions per pair but cost far more to plan and start than they saved: the drain fell
 * from about 58k to 18k events/s.)
 */
export function factsStatement(p: PairLookup, days?: [number, number]): { text: string; values: unknown[] } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const t of p.atMs) {
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  const [from, to] =
    days === undefined ? [lo - p.windowMs, hi + p.windowMs] : [days[0] * DAY_MS, (days[1] + 1) * DAY_MS - 1];
  return {
    text: `SELECT ${FACT_COLUMNS} FROM point_transactions WHERE ${KEYS(1, 2)} AND status <> 'duplicate' AND event_time >= $3 AND event_time <= $4`,
    values: [p.users, pairKeys(p.users, p.ids), new Date(from), new Date(to)],
  };
}

/**
 * Only for the rare refund whose purchase is not in its window: is it there at all (refund_window_passed) or not
 * (unknown_purchase)? Every partition: one index scan per user in each.
 */
export function outsideStatement(users: string[], ids: string[]): { text: string; values: unknown[] } {
  return {
    text: `SELECT DISTINCT user_id, event_id FROM point_transactions WHERE ${KEYS(1, 2)} AND status = 'applied' AND event_type = 'purchase'`,
    values: [users, pairKeys(users, ids)],
  };
}

type FactRow = {
  user_id: string;
  event_id: string;
  event_type: string;
  status: string;
  amount: string | null;
  points: string;
  event_time: Date;
};

/** `label` ends the statement as a comment, so pg_stat_activity (bench/pg-activity.ts) tells the two lookups apart. */
async function readFacts(
  pool: pg.Pool,
  p: PairLookup,
  facts: Map<string, LedgerFact[]>,
  label: 'duplicate ids' | 'recent duplicate ids' | 'refunded purchases' | 'recent purchases',
  days?: [number, number],
): Promise<void> {
  if (p.users.length === 0) return;
  const s = factsStatement(p, days);
  const r = await pool.query<FactRow>({ text: `${s.text} /* ${label} */`, values: s.values });
  const asked = askedKeys(p.users, p.ids);
  for (const row of r.rows) {
    const k = eventKey(row.user_id, row.event_id);
    if (!asked.has(k)) continue;
    const list = facts.get(k) ?? [];
    // Both lookups may return the same row: keep it once.
    const t = row.event_time.getTime();
    if (list.some((f) => f.eventTimeMs === t && f.eventType === row.event_type && f.points === Number(row.points)))
      continue;
    list.push({
      eventType: row.event_type,
      status: row.status,
      amount: Number(row.amount ?? 0),
      points: Number(row.points),
      eventTimeMs: t,
    });
    facts.set(k, list);
  }
}

const appliedPurchase = (facts: Map<string, LedgerFact[]>, userId: string, eventId: string): boolean =>
  facts.get(eventKey(userId, eventId))?.some((f) => f.eventType === 'purchase' && f.status === 'applied') === true;

export async function loadEventFacts(pool: pg.Pool, q: FactsQuery): Promise<EventFacts> {
  const facts = new Map<string, LedgerFact[]>();
  const refunds = new Map<string, RefundTotals>();
  const outsideWindow = new Set<string>();
  await readFacts(pool, q.duplicates, facts, 'duplicate ids');
  await readFacts(pool, q.recentDuplicates, facts, 'recent duplicate ids', q.recentDuplicates.days);
  const near = q.recentPurchases;
  await readFacts(pool, near, facts, 'recent purchases', near.days);
  // Every purchase pair (for refund totals below); the wide lookup gets those the near one did not find.
  const p: PairLookup = {
    users: [...near.users],
    ids: [...near.ids],
    atMs: [...near.atMs],
    windowMs: q.purchases.windowMs,
  };
  const wide: PairLookup = { users: [], ids: [], atMs: [], windowMs: q.purchases.windowMs };
  for (let i = 0; i < near.users.length; i++) {
    if (appliedPurchase(facts, near.users[i]!, near.ids[i]!)) continue;
    wide.users.push(near.users[i]!);
    wide.ids.push(near.ids[i]!);
    wide.atMs.push(near.atMs[i]!);
  }
  for (let i = 0; i < q.purchases.users.length; i++) {
    for (const l of [p, wide]) {
      l.users.push(q.purchases.users[i]!);
      l.ids.push(q.purchases.ids[i]!);
      l.atMs.push(q.purchases.atMs[i]!);
    }
  }
  if (p.users.length === 0) return { facts, refunds, outsideWindow };
  await readFacts(pool, wide, facts, 'refunded purchases');
  const t = await pool.query<{ user_id: string; event_id: string; amount_refunded: string; points_refunded: string }>(
    `SELECT user_id, event_id, amount_refunded, points_refunded FROM purchase_refunds
     WHERE (user_id, event_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [p.users, p.ids],
  );
  for (const row of t.rows)
    refunds.set(eventKey(row.user_id, row.event_id), {
      amountRefunded: Number(row.amount_refunded),
      pointsRefunded: Number(row.points_refunded),
    });
  const notFound: [string[], string[]] = [[], []];
  for (let i = 0; i < p.users.length; i++) {
    if (!appliedPurchase(facts, p.users[i]!, p.ids[i]!)) {
      notFound[0].push(p.users[i]!);
      notFound[1].push(p.ids[i]!);
    }
  }
  if (notFound[0].length > 0) {
    const o = await pool.query<{ user_id: string; event_id: string }>(outsideStatement(notFound[0], notFound[1]));
    const asked = askedKeys(notFound[0], notFound[1]);
    for (const row of o.rows) {
      const k = eventKey(row.user_id, row.event_id);
      if (asked.has(k)) outsideWindow.add(k);
    }
  }
  return { facts, refunds, outsideWindow };
}
