import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineEnv, startEngineProcess, type EngineProcess } from './support/engine-process.js';
import { compareBalances, produceScenario, waitForDrain } from './support/scenario.js';
import { freshDatabase, freshTopic, waitFor } from './support/stack.js';

/** Partitions named in the engine's "partitions assigned" lines so far. */
function assignedPartitions(e: EngineProcess): number {
  return e.logs
    .filter((l) => l.includes('"partitions assigned"'))
    .reduce((n, l) => n + (JSON.parse(l) as { partitions: string[] }).partitions.length, 0);
}

// A long session timeout makes the difference plain: a dynamic member's restart waits for it to end.
const SESSION_MS = 30_000;

describe('static membership (KAFKA_GROUP_INSTANCE_ID)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const engines: EngineProcess[] = [];
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.stop('SIGKILL')));
    await db?.drop();
  });

  it('an engine SIGKILLed and started again with its instance id gets its partitions back well before the session timeout, balances exact', async () => {
    const { topic } = await freshTopic(4);
    const expected = await produceScenario(topic, 2000, {
      users: 100,
      skew: 0,
      redeemRatio: 0.2,
      badRatio: 0,
      seed: 3,
    });
    const env = engineEnv(topic, db.url, {
      KAFKA_GROUP_INSTANCE_ID: 'engine-a',
      KAFKA_SESSION_TIMEOUT_MS: String(SESSION_MS),
    });
    const first = await startEngineProcess(env);
    engines.push(first);
    await waitFor('4 partitions assigned', async () => assignedPartitions(first) === 4, 30_000);
    await first.stop('SIGKILL');

    const restartedAt = Date.now();
    const again = await startEngineProcess(env);
    engines.push(again);
    await waitFor('4 partitions assigned again', async () => assignedPartitions(again) === 4, SESSION_MS + 20_000);
    const tookMs = Date.now() - restartedAt;
    // A dynamic member waits for the killed one's session to end (30 s) before any assignment.
    expect(tookMs).toBeLessThan(SESSION_MS / 2);
    await waitForDrain(db.pool, topic, 2000, 60_000);
    expect(await compareBalances(db.pool, expected)).toEqual([]);
  }, 120_000);

  it('a second engine with the same instance id fences the first, which exits 1 saying why', async () => {
    const { topic } = await freshTopic(2);
    const env = engineEnv(topic, db.url, { KAFKA_GROUP_INSTANCE_ID: 'engine-b' });
    const first = await startEngineProcess(env);
    engines.push(first);
    await waitFor('2 partitions assigned', async () => assignedPartitions(first) === 2, 30_000);
    const second = await startEngineProcess(env);
    engines.push(second);
    const code = await Promise.race([first.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
    expect(code).toBe(1);
    expect(first.logs.join('\n')).toMatch(/kafka consumer failed for good/);
    await waitFor('the second engine owns both partitions', async () => assignedPartitions(second) === 2, 30_000);
  }, 120_000);
});
