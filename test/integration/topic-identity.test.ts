import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, ensureTopics, topicId } from '../../src/kafka/admin.js';
import { bindTopicIdentity, TopicReplacedError } from '../../src/store/topic-identity.js';
import { engineEnv, startEngineProcess, type EngineProcess } from './support/engine-process.js';
import { produceScenario, waitForDrain } from './support/scenario.js';
import { freshDatabase, migratedDatabase, freshTopic, messageCount, stackEnv, waitFor } from './support/stack.js';

/** Deletes the topic and creates it again under the same name: a new topic id, offsets from 0. */
async function recreateTopic(topic: string, partitions: number): Promise<void> {
  const admin = createAdmin(stackEnv().brokers);
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [topic], timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
  // The broker refuses a topic that is still being deleted: try until it takes it.
  await waitFor(
    `${topic} created again`,
    async () => {
      await ensureTopics(stackEnv().brokers, [{ topic, partitions }]);
      return (await messageCount(topic)) === 0;
    },
    60_000,
    500,
  );
}

describe('positions belong to one Kafka topic, by its id', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let engine: EngineProcess | undefined;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await engine?.stop('SIGKILL');
    await db?.drop();
  });

  it('an engine refuses (exit 2, naming both ids) a topic deleted and created again, even once it holds more messages than the positions', async () => {
    const { topic } = await freshTopic(2);
    const opts = { users: 50, skew: 0, redeemRatio: 0.1, badRatio: 0, seed: 7 };
    await produceScenario(topic, 400, opts);
    engine = await startEngineProcess(engineEnv(topic, db.url));
    await waitForDrain(db.pool, topic, 400, 60_000);
    expect(await engine.stop()).toBe(0);
    const before = await db.pool.query<{ kafka_topic_id: string }>('SELECT kafka_topic_id FROM event_topics');
    expect(before.rows.map((r) => r.kafka_topic_id)).toEqual([await topicId(stackEnv().brokers, topic)]);
    const balances = (await db.pool.query('SELECT user_id, points FROM balances ORDER BY user_id')).rows;

    await recreateTopic(topic, 2);
    const newId = await topicId(stackEnv().brokers, topic);
    expect(newId).not.toBe(before.rows[0]!.kafka_topic_id);
    // More messages than the stored positions: every position lies inside the new topic, so only the id tells them apart.
    await produceScenario(topic, 1000, { ...opts, seed: 8 });

    const refused = startEngineProcess(engineEnv(topic, db.url));
    await expect(refused).rejects.toThrow(/exited during start \(code 2\)/);
    await expect(refused).rejects.toThrow(new RegExp(`id ${newId}.*with id ${before.rows[0]!.kafka_topic_id}`));
    // Nothing of the new topic was applied as if it were the old one.
    expect((await db.pool.query('SELECT user_id, points FROM balances ORDER BY user_id')).rows).toEqual(balances);
  }, 180_000);
});

describe('a topic deleted and created again while the engine runs', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let engine: EngineProcess | undefined;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await engine?.stop('SIGKILL');
    await db?.drop();
  });

  it('stops the engine (exit 2, naming the cause) within seconds, without a final flush', async () => {
    const { topic } = await freshTopic(2);
    const opts = { users: 50, skew: 0, redeemRatio: 0.1, badRatio: 0, seed: 9 };
    await produceScenario(topic, 400, opts);
    engine = await startEngineProcess(engineEnv(topic, db.url));
    await waitForDrain(db.pool, topic, 400, 60_000);
    await recreateTopic(topic, 2);
    const recreated = Date.now();
    const code = await Promise.race([engine.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
    expect(code).toBe(2);
    expect(Date.now() - recreated).toBeLessThan(10_000);
    expect(engine.logs.join('\n')).toMatch(/deleted and created again while the engine ran/);
  }, 180_000);
});

describe('bindTopicIdentity', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await migratedDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  const ends = (m: Record<number, number>) => () =>
    Promise.resolve(new Map(Object.entries(m).map(([p, h]) => [Number(p), h])));

  it('records the id on first use, accepts it again, and refuses another', async () => {
    await bindTopicIdentity(db.pool, 't1', { id: 'AAAA', highWatermarks: ends({}) });
    await bindTopicIdentity(db.pool, 't1', { id: 'AAAA', highWatermarks: ends({}) });
    await expect(bindTopicIdentity(db.pool, 't1', { id: 'BBBB', highWatermarks: ends({}) })).rejects.toThrow(
      TopicReplacedError,
    );
    // Each topic name has its own id.
    await bindTopicIdentity(db.pool, 't2', { id: 'BBBB', highWatermarks: ends({}) });
  });

  it('a database from before sql/008: binds positions within the topic, refuses one past its end and names it', async () => {
    await db.pool.query(
      "INSERT INTO consumer_offsets (topic, partition, next_offset) VALUES ('old', 0, 10), ('old', 1, 25), ('older', 0, 0), ('older', 1, 7)",
    );
    await expect(
      bindTopicIdentity(db.pool, 'old', { id: 'CCCC', highWatermarks: ends({ 0: 10, 1: 20 }) }),
    ).rejects.toThrow(/partition 1 at 25, ends at 20/);
    expect((await db.pool.query("SELECT 1 FROM event_topics WHERE topic = 'old'")).rowCount).toBe(0);
    await bindTopicIdentity(db.pool, 'older', { id: 'DDDD', highWatermarks: ends({ 0: 0, 1: 7 }) });
    const r = await db.pool.query<{ kafka_topic_id: string }>(
      "SELECT kafka_topic_id FROM event_topics WHERE topic = 'older'",
    );
    expect(r.rows[0]?.kafka_topic_id).toBe('DDDD');
  });
});
