import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { applyStackEnv } from '../tools/stack/env-file.js';
import { dropDatabase, withDatabase } from '../tools/stack/postgres-server.js';
import { stackUp } from '../tools/stack/stack.js';
import { keptDrainBacklog } from './drain-backlog.js';
import { drainWithEngine, lifecycleRuleYaml, type DrainResult } from './engine-drain.js';
import { buildEngine, table } from './support.js';

/*
 * Issue #14's speed and memory targets, alone (`npm run bench` runs the same drains among everything else):
 *   npx tsx bench/lifecycle-drain.ts [--events 2000000] [--users 100000] [--reps 2]
 *     plain and lifecycle drains of the kept backlog, interleaved (plain, lifecycle, plain, ...), from a
 *     cold engine until every event is committed; each run's events/s and the ratio of the medians
 *     (target: lifecycle >= 0.8x plain).
 *   npx tsx bench/lifecycle-drain.ts --memory [--plain-too]
 *     the memory scenario: 1M events over exactly 1M users (each user in turn) with the lifecycle block
 *     on; the engine's peak RSS (target: <= 1 GiB).
 * The lifecycle block is the seed's rules plus `lifecycle: { pending: 14d, expires_after: 365d }`
 * (lifecycleRuleYaml) with CLOCK_TICK_MS=0 (the backlog's times are past: ticks would move the clocks).
 * Checks: plain drains' balances against the generator's replay (as npm run bench); lifecycle drains have
 * no such replay (pending points refuse some redeems), so there every user's ledger must add up to its
 * balance and its open lots must hold exactly that balance (or none, with a balance <= 0: debt).
 */

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    users: { type: 'string' },
    reps: { type: 'string' },
    memory: { type: 'boolean' },
    'plain-too': { type: 'boolean' },
    keep: { type: 'boolean' },
  },
});
const memory = values.memory === true;
const EVENTS = Number(values.events ?? (memory ? 1_000_000 : 2_000_000));
const USERS = Number(values.users ?? (memory ? 1_000_000 : 100_000));
const REPS = Number(values.reps ?? (memory ? 1 : 2));

/** Users whose applied ledger rows do not add up to their balance, and whose lots do not hold it. */
async function lifecycleChecks(url: string): Promise<{ ledger: number; lots: number; users: number }> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const q = async (sql: string): Promise<number> => Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);
    const ledger = await q(
      `SELECT count(*) AS n FROM balances b
       LEFT JOIN (SELECT user_id, sum(points) AS s FROM point_transactions WHERE status = 'applied' GROUP BY 1) t USING (user_id)
       WHERE COALESCE(t.s, 0) <> b.points`,
    );
    const lots = await q(
      `SELECT count(*) AS n FROM balances b
       LEFT JOIN (SELECT user_id, sum(remaining) AS s FROM point_lots GROUP BY 1) l USING (user_id)
       WHERE NOT (COALESCE(l.s, 0) = b.points OR (l.s IS NULL AND b.points <= 0))`,
    );
    const users = await q('SELECT count(*) AS n FROM balances');
    return { ledger, lots, users };
  } finally {
    await pool.end();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  applyStackEnv();
  const ends = await stackUp((l) => process.stderr.write(`[stack] ${l}\n`));
  buildEngine();
  const run = `bench_lcd_${Date.now().toString(36)}`;
  const backlog = await keptDrainBacklog(ends.kafkaBrokers, EVENTS, USERS);
  const expected = backlog.expected();
  const rulesFile = path.join(os.tmpdir(), `${run}-lifecycle-rules.yaml`);
  writeFileSync(rulesFile, lifecycleRuleYaml());
  const rows: Record<string, string | number>[] = [];
  const rates: Record<'plain' | 'lifecycle', number[]> = { plain: [], lifecycle: [] };
  let bad = 0;
  const kinds: ('plain' | 'lifecycle')[] = memory
    ? values['plain-too']
      ? ['plain', 'lifecycle']
      : ['lifecycle']
    : ['plain', 'lifecycle'];
  for (let i = 0; i < REPS; i++) {
    for (const kind of kinds) {
      const dbName = `${run}_${kind}_${i}`;
      const d: DrainResult = await drainWithEngine({
        label: `${kind} drain ${i + 1}/${REPS} (${EVENTS} events, ${USERS} users)`,
        brokers: ends.kafkaBrokers,
        databaseUrl: ends.databaseUrl,
        dbName,
        topic: backlog.topic,
        events: EVENTS,
        env: kind === 'lifecycle' ? { RULES_FILE: rulesFile, CLOCK_TICK_MS: '0' } : {},
      });
      let check: string;
      if (kind === 'plain') {
        const wrong = expected.differences(d.balances).length;
        bad += wrong;
        check = `${wrong} balances differ from the replay (of ${d.balances.size})`;
      } else {
        const c = await lifecycleChecks(withDatabase(ends.databaseUrl, dbName));
        bad += c.ledger + c.lots;
        check = `${c.ledger} users' ledgers, ${c.lots} users' lots differ from the balance (of ${c.users})`;
      }
      d.balances.clear();
      if (!values.keep) await dropDatabase(ends.databaseUrl, dbName);
      rates[kind].push(d.rate);
      rows.push({
        run: `${kind} ${i + 1}`,
        seconds: d.seconds.toFixed(2),
        'events/s': Math.round(d.rate),
        'peak RSS MiB': d.peakRssMiB,
        check,
      });
    }
  }
  console.log(`\nnpx tsx bench/lifecycle-drain.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
  console.log(`backlog ${backlog.topic}: ${EVENTS} events over ${USERS} users, 12 partitions\n`);
  console.log(table(rows));
  if (rates.plain.length > 0 && rates.lifecycle.length > 0) {
    const ratio = median(rates.lifecycle) / median(rates.plain);
    console.log(
      `\nmedian events/s: plain ${Math.round(median(rates.plain))}, lifecycle ${Math.round(median(rates.lifecycle))}; ` +
        `lifecycle / plain = ${ratio.toFixed(3)}${memory ? '' : ' (target >= 0.8)'}`,
    );
  }
  if (bad > 0) {
    console.log(`\n${bad} check failures`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(`[lifecycle-drain] error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
