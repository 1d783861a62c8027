import type pg from 'pg';

export interface StoredUser {
  balance: number;
  lifetimeEarned: number;
  earnedDay: number;
  earnedToday: number;
  /** Offset of the user's latest event: where expiry writes the user's `expire` rows. */
  lastOffset: number;
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
  }>(
    'SELECT user_id, points, lifetime_earned, earned_day, earned_today, last_offset FROM balances WHERE user_id = ANY($1::text[])',
    [userIds],
  );
  for (const row of r.rows) {
    out.set(row.user_id, {
      balance: Number(row.points),
      lifetimeEarned: Number(row.lifetime_earned),
      earnedDay: row.earned_day,
      earnedToday: Number(row.earned_today),
      lastOffset: Number(row.last_offset),
    });
  }
  return out;
}
