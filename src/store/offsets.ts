import type pg from 'pg';

// consumer_offsets: each partition's next offset. Flushes advance it under the fence (flush.ts); these read it.

/** Reads the stored position of a partition, creating it at 0 when the partition is new. */
export async function openPartitionOffset(pool: pg.Pool, topic: string, partition: number): Promise<number> {
  await pool.query(
    'INSERT INTO consumer_offsets (topic, partition, next_offset) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING',
    [topic, partition],
  );
  const offset = await readStoredOffset(pool, topic, partition);
  if (offset === null) throw new Error(`consumer_offsets row for ${topic}/${partition} vanished`);
  return offset;
}

export async function readStoredOffset(pool: pg.Pool, topic: string, partition: number): Promise<number | null> {
  const r = await pool.query<{ next_offset: string }>(
    'SELECT next_offset FROM consumer_offsets WHERE topic = $1 AND partition = $2',
    [topic, partition],
  );
  const row = r.rows[0];
  return row ? Number(row.next_offset) : null;
}

/** Events of a topic whose positions Postgres holds: the sum of its partitions' next offsets. */
export async function committedEvents(pool: pg.Pool, topic: string): Promise<number> {
  const r = await pool.query<{ total: string | null }>(
    'SELECT sum(next_offset) AS total FROM consumer_offsets WHERE topic = $1',
    [topic],
  );
  return Number(r.rows[0]?.total ?? 0);
}
