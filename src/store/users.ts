import type pg from 'pg';

export interface StoredUser {
  balance: number;
  lifetimeEarned: number;
  earnedDay: number;
  earnedToday: number;
  /** Offset of the user's latest event: where expiry writes the user's `expire` rows. */
  lastOffset: number;
  /** The recent-ids summary (sql/007): its first day, null where none was kept yet, and its entries. */
  recentFrom: number | null;
  recentIds: Buffer;
}

/** Loads the users an actor has not cached yet, in one query. */
export async function loadUsers(pool: pg.Pool, userIds: string[]): Promise<Map<string, StoredUser>> {
  const out = new Map<string, StoredUser>();
  if (userIds.length === 0) return out;
  const r = await pool.query<{
    user_id: string;
    points: string;
    lifetime_earned: string;
    earned_day: number;
    earned_today: string;
    last_offset: string;
    recent_from: number | null;
    recent_ids: Buffer;
  }>(
    'SELECT user_id, points, lifetime_earned, earned_day, earned_today, last_offset, recent_from, recent_ids FROM balances WHERE user_id = ANY($1::text[])',
    [userIds],
  );
  for (const row of r.rows) {
    out.set(row.user_id, {
      balance: Number(row.points),
      lifetimeEarned: Number(row.lifetime_earned),
      earnedDay: row.earned_day,
      earnedToday: Number(row.earned_today),
      lastOffset: Number(row.last_offset),
      recentFrom: row.recent_from,
      recentIds: row.recent_ids,
    });
  }
  return out;
}
