import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChaosRow } from './chaos-row.js';
import { committedEvents } from '../../src/store/offsets.js';
import { createRandom } from '../../tools/simulator/prng.js';
import { produceMessages } from '../../tools/simulator/produce.js';
import {
  LIFECYCLE_RULES,
  lifecycleEvents,
  lifecycleMessage,
  type LifecycleEvent,
} from '../../tools/simulator/lifecycle-stream.js';
import { LifecycleReplay } from '../integration/lifecycle-replay.js';
import { engineEnv, type EngineProcess } from '../integration/support/engine-process.js';
import { waitForDrain } from '../integration/support/scenario.js';
import { freshDatabase, freshTopic, waitFor } from '../integration/support/stack.js';
import { launchEngine } from './netns/engine-launch.js';
import { flushInProgress } from './flush-probe.js';

/**
 * The SIGKILL scenario once more with the points lifecycle on (issue #14): a rules file with
 * `pending: 14d` and `expires_after: 365d`, a stream over two years of event time (so lots are
 * released and expire all through the run, in memory and, with few users held, in SQL), engines
 * SIGKILLed at random moments and inside flush transactions. At the end every user's `points` and
 * `pending_points` (GET /points/{id}) must equal test/integration/lifecycle-replay.ts, an
 * independent replay of the contract, and the ledger must add up to every balance.
 */

const PARTITIONS = 6;
const USERS = 3000;
const DAYS = 730;
const DAY = 86_400_000;
/** Kills per trial: the first at a random point of progress, the others once a flush transaction is seen. */
const KILLS = 3;

const log = (l: string): void => {
  process.stderr.write(`[chaos] ${l}\n`);
};

interface PointsBody {
  points: number;
  pending_points: number;
}

export async function sigkillLifecycle(o: { trials: number; events: number; brokers: string }): Promise<ChaosRow> {
  const row: ChaosRow = {
    scenario: 'SIGKILL at random moments, lifecycle on',
    trials: o.trials,
    events: 0,
    lost: 0,
    wrong: 0,
    result: 'pass',
    note: '',
  };
  let kills = 0;
  let killsInFlush = 0;
  let expiredPoints = 0;
  const started = Date.now();
  const rulesFile = path.join(tmpdir(), `chaos-lifecycle-rules-${process.pid}.yaml`);
  writeFileSync(rulesFile, LIFECYCLE_RULES);
  for (let t = 0; t < o.trials; t++) {
    const db = await freshDatabase();
    const { topic } = await freshTopic(PARTITIONS);
    const engines: EngineProcess[] = [];
    try {
      // Event time ends at today's midnight, so no event is ahead of wall time.
      const endMs = Math.floor(Date.now() / DAY) * DAY;
      const events: LifecycleEvent[] = [
        ...lifecycleEvents({
          events: o.events,
          users: USERS,
          partitions: PARTITIONS,
          days: DAYS,
          endMs,
          seed: 4100 + t,
        }),
      ];
      const replay = new LifecycleReplay();
      for (const e of events) replay.add(e);
      replay.finish();
      const total = (await produceMessages(o.brokers, topic, events.map(lifecycleMessage))).sent;
      row.events += total;

      const env = engineEnv(topic, db.url, {
        KAFKA_BROKERS: o.brokers,
        RULES_FILE: rulesFile,
        // Ticks carry wall time and would expire the past stream's lots early (docs/lifecycle.md).
        CLOCK_TICK_MS: '0',
        FLUSH_MAX_EVENTS: '1500',
        MAX_BATCH_EVENTS: '400',
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        // About 500 users per partition, 100 held: most expiry runs in the flush's SQL, not in memory.
        ACTOR_CACHE_USERS: '100',
      });
      const random = createRandom(71 + t);
      const committed = (): Promise<number> => committedEvents(db.pool, topic);
      for (let k = 0; k < KILLS; k++) {
        const e = await launchEngine({ env });
        engines.push(e);
        // Spread the kills over the stream: each after a random share of what is left.
        const from = await committed();
        const target = Math.min(total, from + Math.floor((total - from) * (0.1 + random() * 0.25)));
        await waitFor('progress', async () => (await committed()) >= target || undefined, 120_000, 50);
        if (k > 0 && (await flushInProgress(db.pool, db.url))) killsInFlush++;
        await e.stop('SIGKILL');
        kills++;
      }
      const last = await launchEngine({ env });
      engines.push(last);
      await waitForDrain(db.pool, topic, total, 240_000);

      // lost: events with neither a ledger row nor a dead letter (expire rows belong to no event).
      const counted = await db.pool.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM point_transactions WHERE event_type <> 'expire')
              + (SELECT count(*) FROM dead_letters WHERE topic = $1) AS n`,
        [topic],
      );
      row.lost += total - Number(counted.rows[0]!.n);

      // wrong: users whose spendable or pending points differ from the replay, or whose ledger does not add up.
      const wrong = new Set<string>();
      const users = [...replay.users.keys()];
      const check = async (userId: string): Promise<void> => {
        const want = replay.state(userId);
        const res = await fetch(`${last.baseUrl()}/points/${encodeURIComponent(userId)}`);
        // 404: no row at all, which is right only for a user the replay leaves with nothing.
        const got: PointsBody =
          res.status === 404 ? { points: 0, pending_points: 0 } : ((await res.json()) as PointsBody);
        if (got.points !== want.points || got.pending_points !== want.pending) {
          if (wrong.size < 3)
            log(`wrong: ${userId} engine ${got.points}/${got.pending_points}, replay ${want.points}/${want.pending}`);
          wrong.add(userId);
        }
      };
      for (let i = 0; i < users.length; i += 16) await Promise.all(users.slice(i, i + 16).map(check));
      const sums = await db.pool.query<{ user_id: string; ok: boolean }>(
        `SELECT b.user_id, b.points = COALESCE(sum(t.points) FILTER (WHERE t.status = 'applied'), 0) AS ok
         FROM balances b LEFT JOIN point_transactions t USING (user_id) GROUP BY b.user_id, b.points`,
      );
      for (const r of sums.rows) if (!r.ok) wrong.add(r.user_id);
      row.wrong += wrong.size;

      // The expire rows hold exactly what the replay expired; a run that expired nothing tested nothing.
      const expired = await db.pool.query<{ n: string | null }>(
        "SELECT -sum(points) AS n FROM point_transactions WHERE event_type = 'expire'",
      );
      const ledgerExpired = Number(expired.rows[0]!.n ?? 0);
      if (ledgerExpired !== replay.expiredPoints)
        throw new Error(`expire rows hold ${ledgerExpired} points, the replay expired ${replay.expiredPoints}`);
      if (replay.expiredPoints === 0) throw new Error('the stream expired nothing');
      expiredPoints += ledgerExpired;
    } catch (e) {
      row.result = 'FAIL';
      row.note = e instanceof Error ? e.message.slice(0, 120) : String(e);
    } finally {
      await Promise.all(engines.map((e) => e.stop('SIGKILL')));
      await db.drop();
    }
    log(`${row.scenario}: trial ${t + 1}/${o.trials} done`);
  }
  rmSync(rulesFile, { force: true });
  if (row.lost !== 0 || row.wrong !== 0) row.result = 'FAIL';
  // The expired total is only claimed for trials whose expire rows matched the replay.
  const expiry = row.result === 'pass' ? `; ${expiredPoints} points expired (ledger = replay)` : '';
  const summary = `${kills} kills, ${killsInFlush} inside a flush transaction${expiry}; ${((Date.now() - started) / 1000).toFixed(0)} s`;
  row.note = row.note === '' ? summary : `${row.note}; ${summary}`;
  return row;
}
