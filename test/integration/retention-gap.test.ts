import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, highWatermarks } from '../../src/kafka/admin.js';
import { engineEnv, startEngineProcess, type EngineProcess } from './support/engine-process.js';
import { produceScenario, waitForDrain } from './support/scenario.js';
import { freshDatabase, freshTopic, stackEnv, waitFor } from './support/stack.js';

const positions = async (pool: import('pg').Pool, topic: string): Promise<Map<number, number>> =>
  new Map(
    (
      await pool.query<{ partition: number; next_offset: string }>(
        'SELECT partition, next_offset FROM consumer_offsets WHERE topic = $1',
        [topic],
      )
    ).rows.map((r) => [r.partition, Number(r.next_offset)]),
  );

async function deleteBefore(topic: string, partition: number, offset: number): Promise<void> {
  const admin = createAdmin(stackEnv().brokers);
  await admin.connect();
  try {
    await admin.deleteTopicRecords({ topic, partitions: [{ partition, offset: String(offset) }] });
  } finally {
    await admin.disconnect();
  }
}

async function waitForEnds(pool: import('pg').Pool, topic: string): Promise<void> {
  const ends = await highWatermarks(stackEnv().brokers, topic);
  await waitFor(
    'every partition at its end',
    async () => {
      const now = await positions(pool, topic);
      return [...ends].every(([p, high]) => now.get(p) === high);
    },
    60_000,
  );
}

async function retentionLetters(pool: import('pg').Pool, topic: string) {
  return (
    await pool.query<{ partition: number; kafka_offset: string; detail: string }>(
      "SELECT partition, kafka_offset, detail FROM dead_letters WHERE reason = 'deleted_by_retention' AND topic = $1",
      [topic],
    )
  ).rows;
}

describe('offsets deleted by retention before they were applied', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let engine: EngineProcess | undefined;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await engine?.stop('SIGKILL');
    await db?.drop();
  });

  it('are a dead letter naming the range and a counted reason, and the partition goes on from the first offset Kafka holds', async () => {
    const { topic } = await freshTopic(2);
    const gen = { users: 40, skew: 0, redeemRatio: 0.1, badRatio: 0 };
    await produceScenario(topic, 400, { ...gen, seed: 21 });
    engine = await startEngineProcess(engineEnv(topic, db.url));
    await waitForDrain(db.pool, topic, 400, 60_000);
    expect(await engine.stop()).toBe(0);
    const stored = await positions(db.pool, topic);

    // While no engine runs: more events, then the oldest 50 unapplied ones of partition 0 go, as retention would.
    await produceScenario(topic, 600, { ...gen, seed: 22 });
    const cut = stored.get(0)! + 50;
    await deleteBefore(topic, 0, cut);

    engine = await startEngineProcess(engineEnv(topic, db.url));
    await waitForEnds(db.pool, topic);
    const letters = await retentionLetters(db.pool, topic);
    expect(letters).toHaveLength(1);
    expect(letters[0]!.partition).toBe(0);
    expect(Number(letters[0]!.kafka_offset)).toBe(stored.get(0));
    expect(letters[0]!.detail).toContain(`offsets ${stored.get(0)} to ${cut - 1} (50)`);
    const metrics = await (await fetch(`http://127.0.0.1:${engine.port()}/metrics`)).text();
    expect(metrics).toMatch(/loyalty_dead_letters_total\{reason="deleted_by_retention"\} 1/);
    expect(engine.logs.join('\n')).toMatch(/deleted by the topic's retention before they were applied/);
  }, 120_000);

  it('while the engine runs: its fetch fails instead of skipping, and the partition reopens past the gap, recording it', async () => {
    await engine?.stop('SIGKILL');
    const { topic } = await freshTopic(2);
    const gen = { users: 40, skew: 0, redeemRatio: 0.1, badRatio: 0 };
    await produceScenario(topic, 200, { ...gen, seed: 31 });
    engine = await startEngineProcess(engineEnv(topic, db.url));
    await waitForDrain(db.pool, topic, 200, 60_000);
    const at = (await positions(db.pool, topic)).get(0)!;
    // Frozen for a few seconds (well inside the session timeout, so no rebalance): events arrive and the oldest
    // 50 of partition 0 past the engine's position are deleted before it fetches again.
    engine.proc.kill('SIGSTOP');
    try {
      await produceScenario(topic, 400, { ...gen, seed: 32 });
      await deleteBefore(topic, 0, at + 50);
    } finally {
      engine.proc.kill('SIGCONT');
    }
    await waitForEnds(db.pool, topic).catch((e) => {
      console.log(engine!.logs.slice(-25).join('\n'));
      throw e;
    });
    const letters = await retentionLetters(db.pool, topic);
    expect(letters).toHaveLength(1);
    expect(Number(letters[0]!.kafka_offset)).toBe(at);
    expect(letters[0]!.detail).toContain(`offsets ${at} to ${at + 49} (50)`);
    const metrics = await (await fetch(`http://127.0.0.1:${engine.port()}/metrics`)).text();
    expect(metrics).toMatch(/loyalty_actor_resets_total\{cause="retention"\} 1/);
  }, 120_000);
});
