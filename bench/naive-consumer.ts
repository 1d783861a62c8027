import pg from 'pg';
import { decodeEvent } from '../src/events/decode.js';
import { KafkaConsumer } from '../src/kafka/library.js';
import { consumeBatch, type RdConsumer } from '../src/kafka/consumer/rdkafka-consumer.js';
import { now, progress } from './support.js';

/**
 * The seed's design, as a baseline: for every event, one transaction that inserts the
 * event and upserts the balance (reading it first for the redeem check).
 */
export async function naiveConsumerRate(
  brokers: string,
  databaseUrl: string,
  topic: string,
  partitions: number,
  slice: number,
): Promise<{ seconds: number; rate: number; events: number }> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  await db.query(`CREATE TABLE IF NOT EXISTS naive_events (event_id text PRIMARY KEY, user_id text, points bigint);
                  CREATE TABLE IF NOT EXISTS naive_balances (user_id text PRIMARY KEY, points bigint NOT NULL)`);
  const c = new KafkaConsumer(
    { 'bootstrap.servers': brokers, 'group.id': `bench-naive-${Date.now()}`, 'enable.auto.commit': false },
    { 'auto.offset.reset': 'earliest' },
  ) as unknown as RdConsumer & {
    assign: (a: { topic: string; partition: number; offset: number }[]) => void;
  };
  await new Promise<void>((resolve, reject) => c.connect({}, (err) => (err ? reject(err) : resolve())));
  c.setDefaultConsumeTimeout(100);
  c.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
  const p = progress('naive per-event consumer');
  const started = now();
  let done = 0;
  while (done < slice) {
    for (const m of await consumeBatch(c, 500)) {
      if (done >= slice) break;
      done++;
      const r = decodeEvent(
        m.value,
        { topic, partition: m.partition, offset: m.offset, key: m.key ? m.key.toString() : null },
        { maxMessageBytes: 65536, maxAmount: 1_000_000 },
      );
      if (!r.ok) continue;
      const e = r.event;
      await db.query('BEGIN');
      const cur = await db.query<{ points: string }>(
        'SELECT points FROM naive_balances WHERE user_id = $1 FOR UPDATE',
        [e.userId],
      );
      const balance = Number(cur.rows[0]?.points ?? 0);
      const day = new Date(e.timestampMs + e.utcOffsetMinutes * 60_000).getUTCDay();
      const points =
        e.type === 'purchase'
          ? Math.floor(e.amount) * (day === 0 || day === 6 ? 2 : 1)
          : balance >= e.amount
            ? -e.amount
            : 0;
      await db.query(
        'INSERT INTO naive_events (event_id, user_id, points) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [`${topic}:${m.partition}:${m.offset}`, e.userId, points],
      );
      await db.query(
        'INSERT INTO naive_balances (user_id, points) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET points = naive_balances.points + EXCLUDED.points',
        [e.userId, points],
      );
      await db.query('COMMIT');
      if (done % 1000 === 0) p.update(`${done}/${slice}`);
    }
  }
  const seconds = (now() - started) / 1000;
  p.done(`${done} in ${seconds.toFixed(2)} s`);
  await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  await db.end();
  return { seconds, rate: done / seconds, events: done };
}
