import { describe, expect, it } from 'vitest';
import { committedEvents } from '../../src/store/offsets.js';
import { produceMessages } from '../../tools/simulator/produce.js';
import { lifecycleEvents, lifecycleMessage, type LifecycleEvent } from '../../tools/simulator/lifecycle-stream.js';
import { engineEnv, startEngineProcess } from './support/engine-process.js';
import { lifecycleSuite, type PointsBody } from './support/lifecycle-suite.js';
import { waitForDrain } from './support/scenario.js';
import { freshTopic, stackEnv, waitFor } from './support/stack.js';
import { LifecycleReplay } from './lifecycle-replay.js';

const EVENTS = 30_000;
const PARTITIONS = 6;
const DAY = 86_400_000;

/**
 * The points lifecycle end to end: two years of event time (pending points, expiry, late events,
 * refunds, adjusts with their own expiry) through engines killed with SIGKILL and a rebalance;
 * every user's spendable and pending points must equal an independent replay of the contract.
 */
describe('points lifecycle on the real broker and Postgres', () => {
  const suite = lifecycleSuite('lifecycle');

  it('keeps points and pending points exact through kills and a rebalance', async () => {
    const { db, engines, rulesFile } = suite;
    const { topic } = await freshTopic(PARTITIONS);
    // Event time ends at today's midnight: the stream's clocks stay behind wall time (no event too far ahead).
    const endMs = Math.floor(Date.now() / DAY) * DAY;
    const events: LifecycleEvent[] = [
      ...lifecycleEvents({ events: EVENTS, users: 3000, partitions: PARTITIONS, days: 730, endMs, seed: 7 }),
    ];
    const replay = new LifecycleReplay();
    for (const e of events) replay.add(e);
    replay.finish();
    await produceMessages(stackEnv().brokers, topic, events.map(lifecycleMessage));

    const env = engineEnv(topic, db.url, {
      RULES_FILE: rulesFile,
      CLOCK_TICK_MS: '0',
      FLUSH_MAX_EVENTS: '1500',
      MAX_BATCH_EVENTS: '400',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      // Far fewer users held than there are (about 500 per partition): most expire in SQL, not in memory.
      ACTOR_CACHE_USERS: '100',
    });
    const progress = async (n: number): Promise<void> => {
      await waitFor('progress', async () => (await committedEvents(db.pool, topic)) >= n || undefined, 120_000, 50);
    };
    // Two kills mid-stream, then a second engine joins and leaves (a rebalance), then one drains.
    for (const at of [EVENTS * 0.2, EVENTS * 0.4]) {
      const e = await startEngineProcess(env);
      engines.push(e);
      await progress(at);
      expect(await e.stop('SIGKILL')).toBe(null);
    }
    const a = await startEngineProcess(env);
    const b = await startEngineProcess(env);
    engines.push(a, b);
    await progress(EVENTS * 0.7);
    expect(await b.stop('SIGTERM')).toBe(0);
    await waitForDrain(db.pool, topic, EVENTS, 180_000);

    const mismatches: string[] = [];
    let pendingSeen = 0;
    let expiringSeen = 0;
    for (const userId of replay.users.keys()) {
      const want = replay.state(userId);
      const res = await fetch(`http://127.0.0.1:${a.port()}/points/${userId}`);
      const got = (await res.json()) as PointsBody;
      if (got.points !== want.points || got.pending_points !== want.pending)
        mismatches.push(`${userId}: engine ${got.points}/${got.pending_points}, replay ${want.points}/${want.pending}`);
      if (got.pending_points > 0) pendingSeen++;
      if (got.next_expiry !== null) expiringSeen++;
    }
    expect(mismatches).toEqual([]);
    // The lots route (first 100 users): its lots hold what the replay's lots hold.
    for (const userId of [...replay.users.keys()].slice(0, 100)) {
      const page = (await (await fetch(`http://127.0.0.1:${a.port()}/points/${userId}/lots?limit=500`)).json()) as {
        items: { points: number }[];
      };
      expect([userId, page.items.reduce((t, l) => t + l.points, 0)]).toEqual([userId, replay.lotPoints(userId)]);
    }
    // The stream exercised what it is meant to.
    expect(pendingSeen).toBeGreaterThan(0);
    expect(expiringSeen).toBeGreaterThan(0);
    expect(replay.expiredPoints).toBeGreaterThan(0);

    // The ledger adds up to every balance, expire rows included, and they hold what the replay expired.
    const sums = await db.pool.query<{ user_id: string; ledger: string; points: string }>(
      `SELECT b.user_id, b.points, COALESCE(sum(t.points) FILTER (WHERE t.status = 'applied'), 0) AS ledger
       FROM balances b LEFT JOIN point_transactions t USING (user_id) GROUP BY b.user_id, b.points`,
    );
    for (const r of sums.rows) expect([r.user_id, Number(r.ledger)]).toEqual([r.user_id, Number(r.points)]);
    const expired = await db.pool.query<{ n: string }>(
      "SELECT -sum(points) AS n FROM point_transactions WHERE event_type = 'expire'",
    );
    expect(Number(expired.rows[0]!.n)).toBe(replay.expiredPoints);
  });
});
