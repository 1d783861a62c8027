import type pg from 'pg';

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

/**
 * What the ledger already says about some (user, event id) pairs, in one query: earlier
 * occurrences (duplicate check) and purchases that refunds name, with what was refunded.
 */
export interface FactsQuery {
  /** Pairs whose earlier ledger rows are wanted (given event ids, and purchases that refunds name). */
  users: string[];
  ids: string[];
  /** Purchases named by refunds, whose refund totals are wanted. */
  refundUsers: string[];
  refundIds: string[];
}

export async function loadEventFacts(pool: pg.Pool, q: FactsQuery): Promise<{ facts: Map<string, LedgerFact[]>; refunds: Map<string, RefundTotals> }> {
  const facts = new Map<string, LedgerFact[]>();
  const refunds = new Map<string, RefundTotals>();
  const { users, ids } = q;
  if (users.length === 0) return { facts, refunds };
  const r = await pool.query<{ user_id: string; event_id: string; event_type: string; status: string; amount: string | null; points: string; event_time: Date }>(
    `SELECT user_id, event_id, event_type, status, amount, points, event_time FROM point_transactions
     WHERE (user_id, event_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND status <> 'duplicate'`,
    [users, ids],
  );
  for (const row of r.rows) {
    const k = eventKey(row.user_id, row.event_id);
    const list = facts.get(k) ?? [];
    list.push({ eventType: row.event_type, status: row.status, amount: Number(row.amount ?? 0), points: Number(row.points), eventTimeMs: row.event_time.getTime() });
    facts.set(k, list);
  }
  if (q.refundUsers.length === 0) return { facts, refunds };
  const t = await pool.query<{ user_id: string; event_id: string; amount_refunded: string; points_refunded: string }>(
    `SELECT user_id, event_id, amount_refunded, points_refunded FROM purchase_refunds
     WHERE (user_id, event_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [q.refundUsers, q.refundIds],
  );
  for (const row of t.rows) refunds.set(eventKey(row.user_id, row.event_id), { amountRefunded: Number(row.amount_refunded), pointsRefunded: Number(row.points_refunded) });
  return { facts, refunds };
}
