import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { DAY_MS, partitionName, utcDay } from '../src/store/ledger-partitions.js';
import { migrate } from '../src/store/migrations.js';
import { rebuildAllRecentIds } from '../src/store/recent-ids-sql.js';
import { keepDays } from '../src/actors/recent-ids.js';
import { defaultRuleSet } from '../src/rules/index.js';
import { recentMonday, userName } from '../tools/simulator/generator.js';
import type { ExpectedBalances } from '../tools/simulator/expected-balances.js';
import { ensureDatabase, withDatabase } from '../tools/stack/postgres-server.js';
import { drainWithEngine } from './engine-drain.js';

/**
 * A database with history, made in SQL (not through Kafka): the schema, a balance row for each
 * of the backlog's users, and `rows` older ledger rows of theirs spread over `days` daily
 * partitions that end the day before `beforeMs` (the backlog's first event). Each day is filled
 * as a plain table, indexed, vacuumed and then attached: bulk index builds instead of row-by-row
 * inserts into ever larger indexes, which took 334 s for 20M rows (issue #13).
 */
export async function makeHistoryDatabase(o: {
  adminUrl: string;
  dbName: string;
  users: number;
  rows: number;
  days: number;
  beforeMs: number;
  log: (line: string) => void;
}): Promise<{ seconds: number }> {
  const started = performance.now();
  await ensureDatabase(o.adminUrl, o.dbName);
  const pool = new pg.Pool({ connectionString: withDatabase(o.adminUrl, o.dbName), max: 2 });
  try {
    await migrate(pool);
    // Zero balances: the drain's balances stay comparable with the replay of the backlog alone.
    await pool.query(
      `INSERT INTO balances (user_id, points, lifetime_earned, last_partition, last_offset)
       SELECT 'user-' || i, 0, 0, 0, 0 FROM generate_series(0, $1::int - 1) AS i`,
      [o.users],
    );
    if (userName(0) !== 'user-0') throw new Error('the generator names users differently from this fill');
    const id = await pool.query<{ id: number }>(
      "INSERT INTO rules_versions (version) VALUES ('history-fill') RETURNING id",
    );
    const rulesId = id.rows[0]!.id;
    const lastDay = utcDay(o.beforeMs) - 1;
    const perDay = Math.ceil(o.rows / o.days);
    // Two days at a time: one connection each.
    const days = Array.from({ length: o.days }, (_, i) => lastDay - o.days + 1 + i);
    let done = 0;
    const fillDay = async (day: number, first: number): Promise<void> => {
      const name = partitionName(day);
      const dayStart = new Date(day * DAY_MS).toISOString();
      const c = await pool.connect();
      try {
        await c.query("SET maintenance_work_mem = '256MB'");
        await c.query(`CREATE TABLE ${name} (LIKE point_transactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
        await c.query(
          `INSERT INTO ${name} (event_time, kafka_offset, points, balance_after, partition, rules_version_id, event_type, status, user_id, event_id, amount, original_event_id, reason)
           SELECT $1::timestamptz + (i % 86400000) * interval '1 millisecond', i, (i * 7) % 500, (i * 13) % 100000, i % 12, $2,
                  CASE WHEN i % 5 = 0 THEN 'redeem' ELSE 'purchase' END::ledger_event_type, 'applied',
                  'user-' || ((i * 2654435761) % $3::bigint), 'h-' || i, (i % 50000) / 100.0, NULL, NULL
           FROM generate_series($4::bigint, $4::bigint + $5::bigint - 1) AS i`,
          [dayStart, rulesId, o.users, first, perDay],
        );
        // The parent's index (sql/003; sql/009 dropped the other), built in bulk; ATTACH adopts it.
        await c.query(`CREATE UNIQUE INDEX ON ${name} (user_id, partition, kafka_offset DESC, event_time)`);
        await c.query(`VACUUM (ANALYZE) ${name}`);
        await c.query(
          `ALTER TABLE point_transactions ATTACH PARTITION ${name} FOR VALUES FROM ('${dayStart}') TO ('${new Date((day + 1) * DAY_MS).toISOString()}')`,
        );
      } finally {
        c.release();
      }
      done += perDay;
      o.log(`history: ${done} of ${perDay * o.days} rows (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    };
    for (let i = 0; i < days.length; i += 2) {
      await Promise.all(days.slice(i, i + 2).map((d, j) => fillDay(d, (i + j) * perDay)));
    }
    // The recent-ids summaries (sql/007) an engine would have kept while writing this history: every
    // findable row of the keep before the last day (the most an engine keeps just after a prune).
    const summaries = performance.now();
    await rebuildAllRecentIds(pool, lastDay - keepDays(defaultRuleSet().idempotencyWindowMs));
    o.log(`history: recent-ids summaries built (${((performance.now() - summaries) / 1000).toFixed(0)} s)`);
    await pool.query('VACUUM (ANALYZE) balances');
  } finally {
    await pool.end();
  }
  return { seconds: (performance.now() - started) / 1000 };
}

export interface HistoryDrain {
  historyRows: number;
  fillSeconds: number;
  rate: number;
  seconds: number;
  /** Users whose balance differs from the replay of the backlog. */
  mismatches: number;
}

/**
 * The `history` scenario: the backlog drained into a database made by makeHistoryDatabase (its
 * older rows end where the backlog's events begin: the generator's default start, recentMonday()).
 */
export async function drainWithHistory(o: {
  brokers: string;
  adminUrl: string;
  dbName: string;
  topic: string;
  events: number;
  users: number;
  rows: number;
  expected: ExpectedBalances;
  env?: Record<string, string>;
  log: (line: string) => void;
}): Promise<HistoryDrain> {
  const fill = await makeHistoryDatabase({
    adminUrl: o.adminUrl,
    dbName: o.dbName,
    users: o.users,
    rows: o.rows,
    days: 60,
    beforeMs: recentMonday(),
    log: o.log,
  });
  // The fill wrote gigabytes: let the kernel write them back now, not during the drain.
  execFileSync('sync');
  const d = await drainWithEngine({
    label: `engine drain (ledger holding ${o.rows} older rows)`,
    brokers: o.brokers,
    databaseUrl: o.adminUrl,
    dbName: o.dbName,
    topic: o.topic,
    events: o.events,
    ...(o.env && { env: o.env }),
  });
  // Every user has a (zero) balance row from the fill, also those the backlog never names.
  for (const [user, points] of d.balances) if (points === 0 && !o.expected.balances.has(user)) d.balances.delete(user);
  return {
    historyRows: o.rows,
    fillSeconds: fill.seconds,
    rate: d.rate,
    seconds: d.seconds,
    mismatches: o.expected.differences(d.balances).length,
  };
}
