import { describe, expect, it } from 'vitest';
import { committedEvents } from '../../src/store/offsets.js';
import { produceMessages } from '../../tools/simulator/produce.js';
import { lifecycleMessage, type LifecycleEvent } from '../../tools/simulator/lifecycle-stream.js';
import { engineEnv, startEngineProcess } from './support/engine-process.js';
import { expectExactEnd, lifecycleSuite, shownWrongly, type PointsBody } from './support/lifecycle-suite.js';
import { freshTopic, stackEnv, waitFor } from './support/stack.js';
import { LifecycleReplay } from './lifecycle-replay.js';

const DAY = 86_400_000;
const USERS = 1500;
/** A tiny EXPIRY_BATCH_LOTS: the ~2,000 due lots take hundreds of flushes, most of them without an event. */
const BATCH_LOTS = 5;

/**
 * Many lots of users the engine does not hold become due at one clock step, and the SQL expiry
 * works through them a few lots per flush (EXPIRY_BATCH_LOTS). Meanwhile the API must not show
 * the due points as spendable, users loaded while their due lots wait must be expired once (in
 * memory), and at the end every balance equals the independent replay and each lot has one expire row.
 */
describe('a backlog of due lots, expired in bounded shares', () => {
  const suite = lifecycleSuite('lifecycle-backlog');

  it('never shows due points, expires each lot once, and ends exact against the replay', async () => {
    const { db, engines, rulesFile } = suite;
    const { topic } = await freshTopic(1);
    const B = Math.floor(Date.now() / DAY) * DAY - 10 * DAY;
    let n = 0;
    const ev = (userId: string, type: LifecycleEvent['type'], amount: number, timeMs: number, expiresAtMs?: number) =>
      ({ eventId: `b-${++n}`, userId, partition: 0, type, amount, timeMs, expiresAtMs }) as LifecycleEvent;
    // Phase 1: every user a purchase (pending for 14 days: it survives the step) and an adjust lot expiring at
    // B + 5 d; every third a second one expiring at B + 6 d (two expire rows, in time order), every fifth a third
    // one expiring at B + 30 d (kept); every fourth redeems 3 (from the lot expiring first).
    const phase1: LifecycleEvent[] = [];
    for (let i = 0; i < USERS; i++) {
      const u = `bl-${i}`;
      phase1.push(ev(u, 'purchase', 20 + (i % 50), B + i));
      phase1.push(ev(u, 'adjust', 10 + (i % 7), B + 3_600_000 + i, B + 5 * DAY));
      if (i % 3 === 0) phase1.push(ev(u, 'adjust', 4 + (i % 5), B + 3_600_000 + i, B + 6 * DAY));
      if (i % 5 === 0) phase1.push(ev(u, 'adjust', 9, B + 3_600_000 + i, B + 30 * DAY));
      if (i % 4 === 0) phase1.push(ev(u, 'redeem', 3, B + 7_200_000 + i));
    }
    // The step: one event past both expiries. Then users loaded while their due lots may still wait in SQL.
    const step = ev('stepper', 'purchase', 5, B + 7 * DAY);
    const touched = new Set<string>();
    const phase2: LifecycleEvent[] = [];
    for (let i = 1; i < USERS; i += 37) {
      const u = `bl-${i}`;
      touched.add(u);
      phase2.push(ev(u, 'adjust', 6, B + 7 * DAY + 1000 + i));
      phase2.push(ev(u, 'redeem', 2, B + 7 * DAY + 2000 + i));
    }
    const all = [...phase1, step, ...phase2];
    const replay = new LifecycleReplay();
    for (const e of all) replay.add(e);
    replay.finish();
    const dueLots = USERS + Math.ceil(USERS / 3);

    // Phase 1 with one engine, which holds every user; then a fresh engine holds none of them.
    await produceMessages(stackEnv().brokers, topic, phase1.map(lifecycleMessage));
    const env = (extra: Record<string, string> = {}): Record<string, string> =>
      engineEnv(topic, db.url, { RULES_FILE: rulesFile, CLOCK_TICK_MS: '0', ...extra });
    const first = await startEngineProcess(env());
    engines.push(first);
    await waitFor(
      'phase 1',
      async () => (await committedEvents(db.pool, topic)) >= phase1.length || undefined,
      120_000,
    );
    expect(await first.stop('SIGTERM')).toBe(0);
    const e = await startEngineProcess(env({ EXPIRY_BATCH_LOTS: String(BATCH_LOTS) }));
    engines.push(e);

    const dueLeft = async (): Promise<number> =>
      Number(
        (
          await db.pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM point_lots p JOIN consumer_offsets o ON o.partition = p.partition AND o.topic = $1
             WHERE p.expires_at <= o.clock`,
            [topic],
          )
        ).rows[0]!.n,
      );
    const read = async (u: string): Promise<PointsBody> =>
      (await (await fetch(`http://127.0.0.1:${e.port()}/points/${u}`)).json()) as PointsBody;

    await produceMessages(stackEnv().brokers, topic, [lifecycleMessage(step)]);
    await waitFor('the step', async () => (await committedEvents(db.pool, topic)) > phase1.length || undefined, 60_000);
    // While the backlog lasts: sweeps over users the rest of the stream does not touch (their final state is
    // already theirs at the step's clock), and a lots page; the later events go in meanwhile.
    const wrong: string[] = [];
    let backlogSweeps = 0;
    let produced = false;
    const untouched = [...replay.users.keys()].filter((u) => u !== 'stepper' && !touched.has(u));
    for (let sweep = 0; sweep < 10_000; sweep++) {
      const before = await dueLeft();
      if (before === 0 && produced) break;
      const sample = Array.from({ length: 40 }, () => untouched[Math.floor(Math.random() * untouched.length)]!);
      const got = await Promise.all(sample.map(read));
      const lots = (await (await fetch(`http://127.0.0.1:${e.port()}/points/${sample[0]}/lots?limit=50`)).json()) as {
        items: { expires_at: string | null }[];
      };
      if ((await dueLeft()) > 0 && before > 0) backlogSweeps++;
      wrong.push(...shownWrongly(replay, sample, got, { user: sample[0]!, items: lots.items }, B + 7 * DAY));
      if (!produced && sweep === 2) {
        await produceMessages(stackEnv().brokers, topic, phase2.map(lifecycleMessage));
        produced = true;
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    // The sweeps did overlap the backlog (with an unbounded expiry there is none to overlap).
    expect(backlogSweeps).toBeGreaterThan(2);
    await waitFor('the stream', async () => (await committedEvents(db.pool, topic)) >= all.length || undefined, 60_000);
    await waitFor('no due lot left', async () => (await dueLeft()) === 0 || undefined, 60_000, 50);

    await expectExactEnd({ db, port: e.port(), replay, dueLots, read });
  });
});
