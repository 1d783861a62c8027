import type pg from 'pg';

export interface RecentDeadLetter {
  reason: string;
  partition: number;
  offset: number;
  /** At most DETAIL_CHARS characters. */
  detail: string;
  recorded_at: string;
}

const DETAIL_CHARS = 300;

// One short backward walk of the primary key (topic, partition, kafka_offset) per partition, so the cost
// stays a few index pages however many dead letters the table holds (no index on recorded_at to sort by).
const RECENT_SQL = `SELECT d.reason, d.partition, d.kafka_offset, left(d.detail, ${DETAIL_CHARS}) AS detail, d.recorded_at
  FROM unnest($2::int[]) AS p(partition)
  CROSS JOIN LATERAL (
    SELECT reason, partition, kafka_offset, detail, recorded_at FROM dead_letters
    WHERE topic = $1 AND partition = p.partition ORDER BY kafka_offset DESC LIMIT $3
  ) d
  ORDER BY d.recorded_at DESC, d.partition, d.kafka_offset DESC LIMIT $3`;

/** The newest `limit` dead letters of the given partitions of `topic`, newest first. */
export async function recentDeadLetters(
  pool: pg.Pool,
  topic: string,
  partitions: readonly number[],
  limit: number,
): Promise<RecentDeadLetter[]> {
  if (partitions.length === 0) return [];
  const r = await pool.query<{
    reason: string;
    partition: number;
    kafka_offset: string;
    detail: string;
    recorded_at: Date;
  }>(RECENT_SQL, [topic, partitions, limit]);
  return r.rows.map((x) => ({
    reason: x.reason,
    partition: x.partition,
    offset: Number(x.kafka_offset),
    detail: x.detail,
    recorded_at: x.recorded_at.toISOString(),
  }));
}
