import { describe, expect, it } from 'vitest';
import { committedEvents } from '../../src/store/offsets.js';
import { produceMessages } from '../../tools/simulator/produce.js';
import { lifecycleMessage } from '../../tools/simulator/lifecycle-stream.js';
import { engineEnv, startEngineProcess, type EngineProcess } from './support/engine-process.js';
import { lifecycleSuite, type PointsBody } from './support/lifecycle-suite.js';
import { freshTopic, messageCount, stackEnv, waitFor } from './support/stack.js';

const DAY = 86_400_000;

/** Ticks move an idle partition's clock: lots expire though no event follows; a tick is never a row or a dead letter. */
describe('clock ticks', () => {
  const suite = lifecycleSuite('lifecycle-ticks');

  it('expire the lots of a partition without events, and only with ticks on', async () => {
    const { db, engines, rulesFile } = suite;
    const { topic } = await freshTopic(2);
    // 380 days ago: pending at its own time, expired (365 days) by wall time.
    const at = Date.now() - 380 * DAY;
    await produceMessages(stackEnv().brokers, topic, [
      lifecycleMessage({ eventId: 'old-1', userId: 'ticker', partition: 0, type: 'purchase', amount: 70, timeMs: at }),
    ]);
    const points = async (e: EngineProcess): Promise<PointsBody> =>
      (await (await fetch(`http://127.0.0.1:${e.port()}/points/ticker`)).json()) as PointsBody;

    // Ticks off: the clock stays at the event's time, where the points are still pending.
    const off = await startEngineProcess(engineEnv(topic, db.url, { RULES_FILE: rulesFile, CLOCK_TICK_MS: '0' }));
    engines.push(off);
    await waitFor('the purchase', async () => (await committedEvents(db.pool, topic)) >= 1 || undefined, 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await points(off)).toMatchObject({ points: 0, pending_points: 70 });
    expect(await messageCount(topic)).toBe(1); // no ticks written
    expect(await off.stop('SIGTERM')).toBe(0);

    // Ticks on: the next one moves the clock to now, past the lot's expiry.
    const on = await startEngineProcess(engineEnv(topic, db.url, { RULES_FILE: rulesFile, CLOCK_TICK_MS: '300' }));
    engines.push(on);
    await waitFor(
      'expiry by a tick',
      async () => {
        const p = await points(on);
        return (p.points === 0 && p.pending_points === 0) || undefined;
      },
      60_000,
    );
    const ledger = await db.pool.query<{ event_type: string; points: string }>(
      "SELECT event_type, points FROM point_transactions WHERE user_id = 'ticker' ORDER BY event_time",
    );
    expect(ledger.rows.map((r) => [r.event_type, Number(r.points)])).toEqual([
      ['purchase', 70],
      ['expire', -70],
    ]);
    const all = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM point_transactions');
    expect(Number(all.rows[0]!.n)).toBe(2); // ticks are no ledger rows
    const dl = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters');
    expect(Number(dl.rows[0]!.n)).toBe(0); // nor dead letters
    expect(await messageCount(topic)).toBeGreaterThan(1); // they are in the log
    const metrics = await (await fetch(`http://127.0.0.1:${on.port()}/metrics`)).text();
    expect(metrics).toMatch(/^loyalty_points_expired_total 70$/m);
    const lag = /^loyalty_partition_clock_lag_seconds\{partition="0"\} ([0-9.e+-]+)$/m.exec(metrics);
    expect(lag).not.toBeNull();
    expect(Number(lag![1])).toBeLessThan(60);
  });
});
