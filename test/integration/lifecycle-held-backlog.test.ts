import { describe, expect, it } from 'vitest';
import { committedEvents } from '../../src/store/offsets.js';
import { produceMessages } from '../../tools/simulator/produce.js';
import { lifecycleMessage, type LifecycleEvent } from '../../tools/simulator/lifecycle-stream.js';
import { engineEnv, startEngineProcess } from './support/engine-process.js';
import { expectExactEnd, lifecycleSuite, shownWrongly, type PointsBody } from './support/lifecycle-suite.js';
import { freshTopic, stackEnv, waitFor } from './support/stack.js';
import { LifecycleReplay } from './lifecycle-replay.js';

const DAY = 86_400_000;
/** Users the engine holds when their lots become due, and users it does not hold (a previous engine's). */
const HELD = 1500;
const COLD = 500;
/** A tiny EXPIRY_BATCH_LOTS: settling the held users takes hundreds of flushes, then the SQL expiry of the others. */
const BATCH_LOTS = 5;

/**
 * Many lots of users the engine holds in memory become due at one clock step. The flush that passes
 * the midnight settles only a bounded share of the held users (EXPIRY_BATCH_LOTS lots), and the next
 * flushes the rest, with or without events; the SQL expiry of the users it does not hold waits until
 * every held user is settled (else it would expire held users' due lots a second time). Meanwhile some
 * held users get events (settled before them), the API must not show due points, and at the end every
 * balance equals the independent replay with one expire row per user and moment.
 */
describe('held users whose lots become due at one step, settled in bounded shares', () => {
  const suite = lifecycleSuite('lifecycle-held-backlog');

  it('settles held users over many flushes, expires each lot once, and ends exact against the replay', async () => {
    const { db, engines, rulesFile } = suite;
    const { topic } = await freshTopic(1);
    const B = Math.floor(Date.now() / DAY) * DAY - 10 * DAY;
    let n = 0;
    const ev = (userId: string, type: LifecycleEvent['type'], amount: number, timeMs: number, expiresAtMs?: number) =>
      ({ eventId: `h-${++n}`, userId, partition: 0, type, amount, timeMs, expiresAtMs }) as LifecycleEvent;
    // Every user a purchase (pending for 14 days: it survives the step) and an adjust lot expiring at B + 5 d;
    // every third a second one expiring at B + 6 d (two expire rows, in time order), every fifth a third one
    // expiring at B + 30 d (kept); every fourth redeems 3 (from the lot expiring first).
    const phase = (prefix: string, users: number, t0: number): LifecycleEvent[] => {
      const out: LifecycleEvent[] = [];
      for (let i = 0; i < users; i++) {
        const u = `${prefix}-${i}`;
        out.push(ev(u, 'purchase', 20 + (i % 50), t0 + i));
        out.push(ev(u, 'adjust', 10 + (i % 7), t0 + 3_600_000 + i, B + 5 * DAY));
        if (i % 3 === 0) out.push(ev(u, 'adjust', 4 + (i % 5), t0 + 3_600_000 + i, B + 6 * DAY));
        if (i % 5 === 0) out.push(ev(u, 'adjust', 9, t0 + 3_600_000 + i, B + 30 * DAY));
        if (i % 4 === 0) out.push(ev(u, 'redeem', 3, t0 + 7_200_000 + i));
      }
      return out;
    };
    const cold = phase('cd', COLD, B);
    const held = phase('hl', HELD, B + 4 * 3_600_000);
    // The step: one event past both expiries. Then events of held users (some not settled yet when they come)
    // and of users not held (loaded while their due lots wait in SQL).
    const step = ev('stepper', 'purchase', 5, B + 7 * DAY);
    const touched = new Set<string>();
    const later: LifecycleEvent[] = [];
    for (let i = HELD - 1; i >= 0; i -= 29) {
      const u = `hl-${i}`; // from the last slots down: most of them come before the scan reaches them
      touched.add(u);
      later.push(ev(u, 'redeem', 2, B + 7 * DAY + 1000 + i));
      later.push(ev(u, 'adjust', 6, B + 7 * DAY + 2000 + i));
    }
    for (let i = 1; i < COLD; i += 41) {
      const u = `cd-${i}`;
      touched.add(u);
      later.push(ev(u, 'redeem', 1, B + 7 * DAY + 3000 + i));
    }
    const all = [...cold, ...held, step, ...later];
    const replay = new LifecycleReplay();
    for (const e of all) replay.add(e);
    replay.finish();
    const dueOf = (users: number): number => users + Math.ceil(users / 3);
    const dueLots = dueOf(HELD) + dueOf(COLD);

    // The cold users with one engine; then the engine under test, which loads (holds) every held user.
    await produceMessages(stackEnv().brokers, topic, cold.map(lifecycleMessage));
    const env = (extra: Record<string, string> = {}): Record<string, string> =>
      engineEnv(topic, db.url, { RULES_FILE: rulesFile, CLOCK_TICK_MS: '0', ...extra });
    const first = await startEngineProcess(env());
    engines.push(first);
    await waitFor(
      'cold users',
      async () => (await committedEvents(db.pool, topic)) >= cold.length || undefined,
      120_000,
    );
    expect(await first.stop('SIGTERM')).toBe(0);
    const e = await startEngineProcess(env({ EXPIRY_BATCH_LOTS: String(BATCH_LOTS) }));
    engines.push(e);
    await produceMessages(stackEnv().brokers, topic, held.map(lifecycleMessage));
    const before = cold.length + held.length;
    await waitFor('held users', async () => (await committedEvents(db.pool, topic)) >= before || undefined, 120_000);

    // Due lots waiting in point_lots: of users whose names begin with `prefix`, less those named in `except`.
    const dueLeft = async (prefix: string, except: string[] = []): Promise<number> =>
      Number(
        (
          await db.pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM point_lots p JOIN consumer_offsets o ON o.partition = p.partition AND o.topic = $1
             WHERE p.expires_at <= o.clock AND p.user_id LIKE $2 AND p.user_id <> ALL($3::text[])`,
            [topic, `${prefix}-%`, except],
          )
        ).rows[0]!.n,
      );
    // Users not held that no later event loads: only the SQL expiry can expire their lots.
    const coldUntouched = Array.from({ length: COLD }, (_, i) => i).filter((i) => !touched.has(`cd-${i}`));
    const coldTouched = [...touched].filter((u) => u.startsWith('cd-'));
    const coldDue = coldUntouched.reduce((a, i) => a + (i % 3 === 0 ? 2 : 1), 0);
    // Held users' and untouched cold users' due lots in one snapshot: counted in two statements, a commit
    // falling between them (the one that settles the last held users and starts the SQL expiry) looks like
    // an early SQL expiry.
    const dueNow = async (): Promise<{ held: number; cold: number }> => {
      const r = await db.pool.query<{ held: string; cold: string }>(
        `SELECT count(*) FILTER (WHERE p.user_id LIKE 'hl-%') AS held,
                count(*) FILTER (WHERE p.user_id LIKE 'cd-%' AND p.user_id <> ALL($2::text[])) AS cold
         FROM point_lots p JOIN consumer_offsets o ON o.partition = p.partition AND o.topic = $1
         WHERE p.expires_at <= o.clock`,
        [topic, coldTouched],
      );
      return { held: Number(r.rows[0]!.held), cold: Number(r.rows[0]!.cold) };
    };
    const read = async (u: string): Promise<PointsBody> =>
      (await (await fetch(`http://127.0.0.1:${e.port()}/points/${u}`)).json()) as PointsBody;

    await produceMessages(stackEnv().brokers, topic, [lifecycleMessage(step)]);
    await waitFor('the step', async () => (await committedEvents(db.pool, topic)) > before || undefined, 60_000);
    // While held users' due lots wait: sweeps over users the rest of the stream does not touch, a lots page,
    // and whether the SQL expiry touched a user not held before every held user was settled.
    const wrong: string[] = [];
    let heldSweeps = 0;
    let coldExpiredEarly = 0;
    let produced = false;
    const untouched = [...replay.users.keys()].filter((u) => u !== 'stepper' && !touched.has(u));
    for (let sweep = 0; sweep < 10_000; sweep++) {
      const { held: heldBefore, cold: coldBefore } = await dueNow();
      if (heldBefore > 0 && coldBefore < coldDue) coldExpiredEarly++;
      if (heldBefore === 0 && coldBefore === 0 && produced) break;
      const sample = Array.from({ length: 40 }, () => untouched[Math.floor(Math.random() * untouched.length)]!);
      const got = await Promise.all(sample.map(read));
      const lots = (await (await fetch(`http://127.0.0.1:${e.port()}/points/${sample[0]}/lots?limit=50`)).json()) as {
        items: { expires_at: string | null }[];
      };
      if ((await dueLeft('hl')) > 0 && heldBefore > 0) heldSweeps++;
      wrong.push(...shownWrongly(replay, sample, got, { user: sample[0]!, items: lots.items }, B + 7 * DAY));
      if (!produced && sweep === 1) {
        await produceMessages(stackEnv().brokers, topic, later.map(lifecycleMessage));
        produced = true;
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    // The sweeps did overlap the held users' settlement (settled in one flush, there is none to overlap) ...
    expect(heldSweeps).toBeGreaterThan(2);
    // ... and the SQL expiry waited for it (users not held that an event loads are expired in memory, at once).
    expect(coldExpiredEarly).toBe(0);
    await waitFor('the stream', async () => (await committedEvents(db.pool, topic)) >= all.length || undefined, 60_000);
    await waitFor(
      'no due lot left',
      async () => ((await dueLeft('hl')) === 0 && (await dueLeft('cd')) === 0) || undefined,
      60_000,
      50,
    );

    await expectExactEnd({ db, port: e.port(), replay, dueLots, read });
  });
});
