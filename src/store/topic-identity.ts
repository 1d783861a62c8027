import type pg from 'pg';

/**
 * The events topic is not the one whose positions Postgres holds: it was deleted and created again, or
 * the engine points at another Kafka cluster. Consuming it from the stored positions would skip its
 * messages below them as "already applied", without a trace, so the engine refuses to.
 */
export class TopicReplacedError extends Error {}

/** What the check needs of Kafka: the topic's id, and each partition's end offset (for databases older than sql/008). */
export interface TopicInKafka {
  id: string;
  highWatermarks: () => Promise<Map<number, number>>;
}

/**
 * Binds the topic's stored positions to the topic's Kafka id: records the id when none is recorded,
 * and throws TopicReplacedError when the recorded one differs. A database that has positions but no
 * id yet (written before sql/008) is bound only if every position is within its partition's end; a
 * position past the end can only come from another topic.
 */
export async function bindTopicIdentity(pool: pg.Pool, topic: string, kafka: TopicInKafka): Promise<void> {
  let stored = await recordedId(pool, topic);
  if (stored === undefined) {
    await positionsWithinTopic(pool, topic, kafka);
    // Two engines starting together both get here; the first insert wins and the other compares against it.
    await pool.query('INSERT INTO event_topics (topic, kafka_topic_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
      topic,
      kafka.id,
    ]);
    stored = await recordedId(pool, topic);
  }
  if (stored !== kafka.id)
    throw new TopicReplacedError(
      `topic ${topic} in Kafka has id ${kafka.id}, but the positions in Postgres belong to a topic of that name with id ${String(stored)}: ` +
        'it was deleted and created again, or KAFKA_BROKERS points at another cluster. Consuming it from those positions would skip ' +
        `its messages below them, so the engine stops. ${REMEDY}`,
    );
}

/** What to do, in both refusals. */
const REMEDY =
  'Point KAFKA_BROKERS or DATABASE_URL at the matching pair, or start this topic with a database of its own ' +
  '(README, "A topic created again").';

async function recordedId(pool: pg.Pool, topic: string): Promise<string | undefined> {
  const r = await pool.query<{ kafka_topic_id: string }>('SELECT kafka_topic_id FROM event_topics WHERE topic = $1', [
    topic,
  ]);
  return r.rows[0]?.kafka_topic_id;
}

async function positionsWithinTopic(pool: pg.Pool, topic: string, kafka: TopicInKafka): Promise<void> {
  const stored = await pool.query<{ partition: number; next_offset: string }>(
    'SELECT partition, next_offset FROM consumer_offsets WHERE topic = $1 AND next_offset > 0 ORDER BY partition',
    [topic],
  );
  if (stored.rows.length === 0) return;
  const ends = await kafka.highWatermarks();
  const beyond = stored.rows.filter((r) => Number(r.next_offset) > (ends.get(r.partition) ?? 0));
  if (beyond.length > 0)
    throw new TopicReplacedError(
      `topic ${topic} (Kafka id ${kafka.id}) ends before the positions Postgres holds for it: ` +
        beyond
          .map((r) => `partition ${r.partition} at ${r.next_offset}, ends at ${ends.get(r.partition) ?? 'missing'}`)
          .join('; ') +
        '. They belong to another topic of that name (deleted and created again, or another cluster); consuming from them would ' +
        `skip messages, so the engine stops. ${REMEDY}`,
    );
}
