import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineEnv, startEngineProcess, type EngineProcess } from './support/engine-process.js';
import { compareBalances, ledgerCounts, produceScenario, waitForDrain } from './support/scenario.js';
import { freshDatabase, freshTopic, messageCount, waitFor } from './support/stack.js';

const EVENTS = Number(process.env.EXACTNESS_EVENTS ?? 200_000);
const gen = {
  users: 5_000,
  skew: 1.1,
  redeemRatio: 0.3,
  refundRatio: 0.05,
  duplicateRatio: 0.02,
  badRatio: 0.002,
  seed: 1234,
};

describe(`balances are exact: ${EVENTS} events with refunds, repeated ids and poison`, () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let engine: EngineProcess | undefined;

  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await engine?.stop('SIGKILL');
    await db.drop();
  });

  it('every balance equals a single-threaded replay, and the dead letters are exactly the bad messages', async () => {
    const { topic, dlq } = await freshTopic(6);
    const expected = await produceScenario(topic, EVENTS, gen);
    engine = await startEngineProcess(engineEnv(topic, db.url));
    await waitForDrain(db.pool, topic, EVENTS, 240_000);

    expect(await compareBalances(db.pool, expected)).toEqual([]);
    const ledger = await ledgerCounts(db.pool, topic);
    expect(ledger.applied).toBe(expected.applied);
    expect(ledger.rejected).toBe(expected.rejected);
    expect(ledger.duplicates).toBe(expected.duplicates);
    expect(expected.duplicates).toBeGreaterThan(1000);
    expect(ledger.deadLetters).toBe(expected.bad);
    expect(ledger.rows + ledger.deadLetters).toBe(EVENTS);
    expect(expected.bad).toBeGreaterThan(0);
    // The relay publishes every dead letter to the dead-letter topic.
    await waitFor('dead letters published', async () => (await messageCount(dlq)) === expected.bad, 60_000);

    // The API serves what Postgres holds.
    const [userId, points] = [...expected.balances.entries()][0]!;
    const res = await fetch(`http://127.0.0.1:${engine.port()}/points/${userId}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { points: number }).points).toBe(points);
    expect((await fetch(`http://127.0.0.1:${engine.port()}/points/nobody-at-all`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${engine.port()}/points/bad%20id`)).status).toBe(400);

    const metrics = await (await fetch(`http://127.0.0.1:${engine.port()}/metrics`)).text();
    expect(metrics).toMatch(/loyalty_flush_duration_seconds_bucket/);
    expect(metrics).toMatch(/loyalty_dead_letters_total\{reason="malformed_json"\} [1-9]/);

    expect(await engine.stop('SIGTERM')).toBe(0);
  });
});
