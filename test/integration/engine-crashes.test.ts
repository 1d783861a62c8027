import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { committedEvents } from '../../src/store/offsets.js';
import { engineEnv, startEngineProcess, type EngineProcess } from './support/engine-process.js';
import { compareBalances, ledgerCounts, produceScenario, waitForDrain } from './support/scenario.js';
import { freshDatabase, freshTopic, waitFor } from './support/stack.js';

const EVENTS = 60_000;
const gen = {
  users: 2_000,
  skew: 1.0,
  redeemRatio: 0.35,
  refundRatio: 0.05,
  duplicateRatio: 0.02,
  badRatio: 0.002,
  seed: 99,
};

describe('balances stay exact through failures', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const engines: EngineProcess[] = [];
  // Small flushes so that kills land between, and inside, many commits.
  const env = (topic: string): Record<string, string> =>
    engineEnv(topic, db.url, { FLUSH_MAX_EVENTS: '2000', MAX_BATCH_EVENTS: '500', KAFKA_SESSION_TIMEOUT_MS: '6000' });

  beforeEach(async () => {
    db = await freshDatabase();
  });
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.stop('SIGKILL')));
    await db.drop();
  });

  it('survives SIGKILL three times while consuming', async () => {
    const { topic } = await freshTopic(6);
    const expected = await produceScenario(topic, EVENTS, gen);
    for (let kill = 1; kill <= 3; kill++) {
      const e = await startEngineProcess(env(topic));
      engines.push(e);
      const before = await committedEvents(db.pool, topic);
      // Kill once it has made progress, but (very likely) not finished.
      await waitFor(
        'progress',
        async () => (await committedEvents(db.pool, topic)) > before + 3000 || undefined,
        120_000,
        50,
      );
      expect(await e.stop('SIGKILL')).toBe(null);
    }
    const last = await startEngineProcess(env(topic));
    engines.push(last);
    await waitForDrain(db.pool, topic, EVENTS, 180_000);
    expect(await compareBalances(db.pool, expected)).toEqual([]);
    const ledger = await ledgerCounts(db.pool, topic);
    expect(ledger.rows + ledger.deadLetters).toBe(EVENTS);
  });

  it('stays exact while a third engine joins and leaves a group of two', async () => {
    const { topic } = await freshTopic(6);
    const expected = await produceScenario(topic, EVENTS, gen);
    const a = await startEngineProcess(env(topic));
    const b = await startEngineProcess(env(topic));
    engines.push(a, b);
    await waitFor('progress', async () => (await committedEvents(db.pool, topic)) > 5000 || undefined, 120_000, 50);
    const c = await startEngineProcess(env(topic));
    engines.push(c);
    await waitFor(
      'more progress',
      async () => (await committedEvents(db.pool, topic)) > 20_000 || undefined,
      120_000,
      50,
    );
    expect(await c.stop('SIGTERM')).toBe(0);
    await waitForDrain(db.pool, topic, EVENTS, 180_000);
    expect(await compareBalances(db.pool, expected)).toEqual([]);
    const ledger = await ledgerCounts(db.pool, topic);
    expect(ledger.rows + ledger.deadLetters).toBe(EVENTS);
  });

  it('stays exact when Postgres backends are terminated in the middle of flushes', async () => {
    const { topic } = await freshTopic(6);
    const expected = await produceScenario(topic, EVENTS, gen);
    const dbName = new URL(db.url).pathname.slice(1);
    const e = await startEngineProcess(env(topic));
    engines.push(e);
    let terminated = 0;
    let rounds = 0;
    // Terminate busy backends every 400 ms for a while (not forever: a flush must be able to finish in between).
    await new Promise<void>((resolve) => {
      const killer = setInterval(() => {
        if (++rounds > 40) {
          clearInterval(killer);
          resolve();
          return;
        }
        // Only backends busy in a transaction: COPY, merge or commit of a flush.
        db.pool
          .query<{ n: string }>(
            `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
             WHERE datname = $1 AND application_name = 'loyalty-engine' AND state IN ('active', 'idle in transaction')`,
            [dbName],
          )
          .then(
            (r) => (terminated += Number(r.rows[0]?.n ?? 0)),
            () => undefined,
          );
      }, 400);
    });
    await waitForDrain(db.pool, topic, EVENTS, 180_000);
    expect(terminated).toBeGreaterThan(0);
    expect(await compareBalances(db.pool, expected)).toEqual([]);
    const ledger = await ledgerCounts(db.pool, topic);
    expect(ledger.rows + ledger.deadLetters).toBe(EVENTS);
  });
});
