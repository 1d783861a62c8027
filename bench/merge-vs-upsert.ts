import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createRandom } from '../tools/simulator/prng.js';
import { applyStackEnv } from '../tools/stack/env-file.js';
import { ensureDatabase, withDatabase } from '../tools/stack/postgres-server.js';
import { stackUp } from '../tools/stack/stack.js';
import { table } from './support.js';

/**
 * Which statement should merge a flush's staged deltas into balances? Same data, same
 * connection, alternating rounds: INSERT ... ON CONFLICT DO UPDATE against MERGE (PG 15+).
 */
const USERS = 200_000;
const BATCH = Number(process.env.MERGE_BENCH_BATCH ?? 10_000);
const ROUNDS = Number(process.env.MERGE_BENCH_ROUNDS ?? 30);

const UPSERT = `INSERT INTO balances AS b (user_id, points, lifetime_earned) SELECT user_id, points, earned FROM staging
  ON CONFLICT (user_id) DO UPDATE SET points = b.points + EXCLUDED.points, lifetime_earned = b.lifetime_earned + EXCLUDED.lifetime_earned`;
const MERGE = `MERGE INTO balances AS b USING staging AS s ON b.user_id = s.user_id
  WHEN MATCHED THEN UPDATE SET points = b.points + s.points, lifetime_earned = b.lifetime_earned + s.earned
  WHEN NOT MATCHED THEN INSERT (user_id, points, lifetime_earned) VALUES (s.user_id, s.points, s.earned)`;

async function main(): Promise<void> {
  applyStackEnv();
  const ends = await stackUp((l) => process.stderr.write(`[stack] ${l}\n`));
  const name = `bench_merge_${Date.now().toString(36)}`;
  await ensureDatabase(ends.databaseUrl, name);
  const c = new pg.Client({ connectionString: withDatabase(ends.databaseUrl, name) });
  await c.connect();
  await c.query(
    'CREATE TABLE balances (user_id text PRIMARY KEY, points bigint NOT NULL, lifetime_earned bigint NOT NULL)',
  );
  await c.query(`INSERT INTO balances SELECT 'user-' || g, 0, 0 FROM generate_series(0, ${USERS / 2 - 1}) g`);
  await c.query('VACUUM ANALYZE balances');
  await c.query(
    'CREATE TEMP TABLE staging (user_id text NOT NULL, points bigint NOT NULL, earned bigint NOT NULL) ON COMMIT DELETE ROWS',
  );
  const times: Record<string, number[]> = { upsert: [], merge: [] };
  const random = createRandom(7);
  for (let round = 0; round < ROUNDS * 2; round++) {
    const kind = round % 2 === 0 ? 'upsert' : 'merge';
    // Half the batch hits existing users, half new or rarely seen ones: like a real flush.
    const ids = new Set<string>();
    while (ids.size < BATCH) ids.add(`user-${Math.floor(random() * USERS)}`);
    const payload = [...ids]
      .map((id) => `${id}\t${Math.floor(random() * 500)}\t${Math.floor(random() * 300)}\n`)
      .join('');
    await c.query('BEGIN');
    await pipeline(Readable.from([Buffer.from(payload)]), c.query(copyFrom('COPY staging FROM STDIN')));
    const t0 = performance.now();
    await c.query(kind === 'upsert' ? UPSERT : MERGE);
    times[kind]!.push(performance.now() - t0);
    await c.query('COMMIT');
    process.stderr.write(`\r[bench] round ${round + 1}/${ROUNDS * 2}`);
  }
  process.stderr.write('\n');
  await c.end();
  const stat = (xs: number[]): { median: number; p90: number } => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: s[Math.floor(s.length / 2)]!, p90: s[Math.floor(s.length * 0.9)]! };
  };
  const up = stat(times.upsert!),
    me = stat(times.merge!);
  console.log(
    `merge of ${BATCH} staged deltas into balances (${USERS / 2}+ rows), ${ROUNDS} rounds each, alternating:`,
  );
  console.log(
    table([
      { statement: 'INSERT ... ON CONFLICT DO UPDATE', 'median ms': up.median.toFixed(2), 'p90 ms': up.p90.toFixed(2) },
      { statement: 'MERGE', 'median ms': me.median.toFixed(2), 'p90 ms': me.p90.toFixed(2) },
    ]),
  );
  console.log(`MERGE / UPSERT median: ${(me.median / up.median).toFixed(2)}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
