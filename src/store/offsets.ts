import pg from 'pg';
import { tsToMs } from '../lifecycle/lot-sql.js';

// consumer_offsets: each partition's next offset. Flushes advance it under the fence (flush.ts); these read it.

/** How long opening a partition waits for its offset row before ending the engine session that holds it. */
export const TAKEOVER_AFTER_MS = 15_000;

/**
 * Reads the stored position of a partition, creating it at 0 when the partition is new, and takes the
 * partition over: it locks the offset row, so it returns only when no other transaction holds it. A healthy
 * previous owner's last flush ends within a second or two; one still holding the row after `takeoverAfterMs`
 * is stuck (typically an engine cut off inside a flush, whose backend waits for COPY data), so its engine
 * session is terminated, which rolls its flush back. Sessions of other applications are never ended: the
 * open then waits for them. `onTakeover` hears the backends ended.
 */
export async function openPartitionOffset(
  pool: pg.Pool,
  topic: string,
  partition: number,
  o: OpenOptions = {},
): Promise<number> {
  return (await openPartition(pool, topic, partition, o)).offset;
}

export interface OpenOptions {
  takeoverAfterMs?: number;
  onTakeover?: (pids: number[]) => void;
  /**
   * The partition's first offset in Kafka (its low watermark, read just before). A stored position below it means
   * retention deleted messages the engine never applied: the open records that as a dead letter and moves the
   * position to it, under the same lock, so the loss is recorded once and never silent.
   */
  earliest?: number;
}

/** Offsets retention deleted before they were applied: [from, to). */
export interface DeletedRange {
  from: number;
  to: number;
}

/** openPartitionOffset, also saying which stored offsets Kafka no longer held (see OpenOptions.earliest). */
export async function openPartition(
  pool: pg.Pool,
  topic: string,
  partition: number,
  o: OpenOptions = {},
): Promise<{ offset: number; deleted: DeletedRange | null }> {
  const client = await pool.connect();
  let watch: NodeJS.Timeout | undefined;
  let broken = false;
  try {
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const every = o.takeoverAfterMs ?? TAKEOVER_AFTER_MS;
    // On a connection of its own: every pooled one may be waiting in an open like this.
    const endBlockers = (): void => {
      const c = new pg.Client(pool.options);
      c.on('error', () => undefined);
      c.connect()
        .then(() =>
          c.query<{ pid: number }>(
            // Chosen first, then ended: in one WHERE, Postgres may call pg_terminate_backend before the name test.
            `WITH stuck AS MATERIALIZED (
               SELECT pid FROM pg_stat_activity WHERE pid = ANY (pg_blocking_pids($1)) AND application_name = 'loyalty-engine'
             )
             SELECT pid FROM stuck WHERE pg_terminate_backend(pid)`,
            [pid],
          ),
        )
        .then((r) => {
          if (r.rows.length > 0) o.onTakeover?.(r.rows.map((x) => x.pid));
        })
        .catch(() => undefined) // the open's own query reports what matters
        .finally(() => void c.end().catch(() => undefined));
      watch = setTimeout(endBlockers, every);
    };
    watch = setTimeout(endBlockers, every);
    await client.query('BEGIN');
    await client.query(
      'INSERT INTO consumer_offsets (topic, partition, next_offset) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING',
      [topic, partition],
    );
    const r = await client.query<{ next_offset: string }>(
      'SELECT next_offset FROM consumer_offsets WHERE topic = $1 AND partition = $2 FOR UPDATE',
      [topic, partition],
    );
    const row = r.rows[0];
    if (row === undefined) throw new Error(`consumer_offsets row for ${topic}/${partition} vanished`);
    const stored = Number(row.next_offset);
    const earliest = o.earliest ?? 0;
    let deleted: DeletedRange | null = null;
    if (earliest > stored) {
      deleted = { from: stored, to: earliest };
      // Moving the position fences any writer still holding the old one, as a flush would.
      await client.query(
        `INSERT INTO dead_letters (topic, partition, kafka_offset, reason, detail) VALUES ($1, $2, $3, 'deleted_by_retention', $4)
         ON CONFLICT DO NOTHING`,
        [
          topic,
          partition,
          stored,
          `offsets ${stored} to ${earliest - 1} (${earliest - stored}) were deleted by the topic's retention before the engine applied them; their events are lost to the balances`,
        ],
      );
      await client.query(
        'UPDATE consumer_offsets SET next_offset = $3, updated_at = now() WHERE topic = $1 AND partition = $2',
        [topic, partition, earliest],
      );
    }
    await client.query('COMMIT');
    return { offset: deleted?.to ?? stored, deleted };
  } catch (e) {
    broken = true;
    throw e;
  } finally {
    clearTimeout(watch);
    client.release(broken);
  }
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

/** The partition's stored position as the lifecycle fences it: next offset, clock (null: none) and lifecycle_seq (sql/006). */
export interface LifecyclePosition {
  offset: number;
  clock: number | null;
  seq: number;
}

export async function readLifecyclePosition(
  pool: pg.Pool,
  topic: string,
  partition: number,
): Promise<LifecyclePosition | null> {
  const r = await pool.query<{ next_offset: string; c: string | null; lifecycle_seq: string }>(
    `SELECT next_offset, ${tsToMs('clock')} AS c, lifecycle_seq FROM consumer_offsets WHERE topic = $1 AND partition = $2`,
    [topic, partition],
  );
  const row = r.rows[0];
  if (row === undefined) return null;
  return {
    offset: Number(row.next_offset),
    clock: row.c === null ? null : Number(row.c),
    seq: Number(row.lifecycle_seq),
  };
}
