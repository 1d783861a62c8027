import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { LIFECYCLE_RULES } from '../../../tools/simulator/lifecycle-stream.js';
import type { LifecycleReplay } from '../lifecycle-replay.js';
import type { EngineProcess } from './engine-process.js';
import { freshDatabase } from './stack.js';

/** What GET /points/{id} answers under a `lifecycle:` block (the fields these tests compare). */
export interface PointsBody {
  points: number;
  pending_points: number;
  next_expiry: { points: number; at: string } | null;
}

type TestDatabase = Awaited<ReturnType<typeof freshDatabase>>;

export interface LifecycleSuite {
  /** The suite's own database (set before the first test). */
  readonly db: TestDatabase;
  /** Engines the tests start: SIGKILLed after the suite. */
  engines: EngineProcess[];
  /** A rules file holding LIFECYCLE_RULES, for RULES_FILE. */
  rulesFile: string;
}

/** A lifecycle suite's fixtures: a fresh database, the lifecycle rules file, and the engines to stop afterwards. */
export function lifecycleSuite(name: string): LifecycleSuite {
  let db: TestDatabase | undefined;
  const suite: LifecycleSuite = {
    get db(): TestDatabase {
      if (db === undefined) throw new Error('the database is made in beforeAll');
      return db;
    },
    engines: [],
    rulesFile: path.join(tmpdir(), `${name}-rules-${process.pid}.yaml`),
  };
  beforeAll(async () => {
    db = await freshDatabase();
    writeFileSync(suite.rulesFile, LIFECYCLE_RULES);
  });
  afterAll(async () => {
    await Promise.all(suite.engines.splice(0).map((e) => e.stop('SIGKILL')));
    await db?.drop();
  });
  return suite;
}

/**
 * What the API showed wrongly for users whose final state is already theirs: points or pending points other
 * than the replay's, or a lot due at `dueBy` (or earlier) offered as next to expire or listed as open.
 */
export function shownWrongly(
  replay: LifecycleReplay,
  users: string[],
  got: PointsBody[],
  lots: { user: string; items: { expires_at: string | null }[] },
  dueBy: number,
): string[] {
  const wrong: string[] = [];
  users.forEach((u, j) => {
    const want = replay.state(u);
    const g = got[j]!;
    const nextAt = g.next_expiry === null ? Infinity : Date.parse(g.next_expiry.at);
    if (g.points !== want.points || g.pending_points !== want.pending || nextAt <= dueBy)
      wrong.push(`${u}: ${JSON.stringify(g)}, replay ${want.points}/${want.pending}`);
  });
  for (const l of lots.items)
    if (l.expires_at !== null && Date.parse(l.expires_at) <= dueBy)
      wrong.push(`${lots.user}: due lot listed ${l.expires_at}`);
  return wrong;
}

/**
 * The end of a backlog test, on one partition: every user's points and pending points equal the replay; the
 * ledger adds up to every balance; `dueLots` expire rows, one per user and moment, at 2 moments, summing to
 * the replay's expired points; the expired-points metric the same and the open-lots gauge as Postgres holds them.
 */
export async function expectExactEnd(o: {
  db: TestDatabase;
  port: number;
  replay: LifecycleReplay;
  dueLots: number;
  read: (userId: string) => Promise<PointsBody>;
}): Promise<void> {
  const mismatches: string[] = [];
  for (const u of o.replay.users.keys()) {
    const want = o.replay.state(u);
    const got = await o.read(u);
    if (got.points !== want.points || got.pending_points !== want.pending)
      mismatches.push(`${u}: engine ${got.points}/${got.pending_points}, replay ${want.points}/${want.pending}`);
  }
  expect(mismatches.slice(0, 5)).toEqual([]);
  const sums = await o.db.pool.query<{ user_id: string; ledger: string; points: string }>(
    `SELECT b.user_id, b.points, COALESCE(sum(t.points) FILTER (WHERE t.status = 'applied'), 0) AS ledger
     FROM balances b LEFT JOIN point_transactions t USING (user_id) GROUP BY b.user_id, b.points`,
  );
  expect(sums.rows.filter((r) => Number(r.ledger) !== Number(r.points))).toEqual([]);
  const expires = await o.db.pool.query<{ rows: string; pairs: string; pts: string; moments: string }>(
    `SELECT count(*) AS rows, count(DISTINCT (user_id, event_time)) AS pairs, -sum(points) AS pts,
            count(DISTINCT event_time) AS moments
     FROM point_transactions WHERE event_type = 'expire'`,
  );
  const x = expires.rows[0]!;
  expect([Number(x.rows), Number(x.pairs), Number(x.moments)]).toEqual([o.dueLots, o.dueLots, 2]);
  expect(Number(x.pts)).toBe(o.replay.expiredPoints);
  const metrics = await (await fetch(`http://127.0.0.1:${o.port}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`^loyalty_points_expired_total ${o.replay.expiredPoints}$`, 'm'));
  const open = Number((await o.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM point_lots')).rows[0]!.n);
  expect(metrics).toMatch(new RegExp(`^loyalty_open_lots\\{partition="0"\\} ${open}$`, 'm'));
}
