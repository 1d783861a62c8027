import { writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ensureTopics, highWatermarks } from '../src/kafka/admin.js';
import { KafkaJS } from '../src/kafka/library.js';
import { expireDue, expiringMoments } from '../src/lifecycle/lot-sql.js';
import { DAY_MS } from '../src/store/ledger-partitions.js';
import { migrate } from '../src/store/migrations.js';
import { sessionOptions } from '../src/store/session-options.js';
import { applyStackEnv } from '../tools/stack/env-file.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../tools/stack/postgres-server.js';
import { stackUp } from '../tools/stack/stack.js';
import { lifecycleRuleYaml } from './engine-drain.js';
import { buildEngine, startEngineChild, table } from './support.js';

/*
 * Issue #14: "Expiry of a million lots at one clock step does not stall a partition for more than a
 * flush interval". One partition (0 of 12) holds `--lots` users, each with one lot expiring at the same
 * midnight M (and every tenth user a second lot expiring 65 days later), filled in SQL as the engine
 * would have left them: balances equal to the lots (no debt), the partition's stored clock 10 minutes
 * before M, no ledger rows for the purchases (they are a year old: retention dropped them). The engine
 * starts with a lifecycle block and CLOCK_TICK_MS=0 (event time alone moves the clock); a trickle of
 * purchases (other users) goes into partition 0 before and after one event at M + 1 s, the step.
 * Since the engine holds none of the filled users, their lots are expired in SQL (expireDue,
 * src/lifecycle/lot-sql.ts), at most EXPIRY_BATCH_LOTS (`--batch-lots`, else the engine's default) per
 * flush, flush after flush until none is due. Measured: from producing the step to its offset's commit,
 * the longest time partition 0 went without a commit (a new next_offset or lifecycle_seq), trickle
 * latency before and after, the flush histogram, and the time until no lot due at M is left; meanwhile
 * GET /points of sampled filled users must never show the expired points once the step's clock is
 * stored. Then every lot, balance and expire row is checked, and on a second, identical fill one bounded
 * expiry statement runs under EXPLAIN ANALYZE and ten more are timed.
 * With `--held N` the first N filled users are held by the engine when the step comes: before it, each
 * gets one refund of a purchase it does not have (refused, a dead letter: the user is loaded with its
 * lots, and nothing of it changes), so their lots expire in the actor's memory (the flush that passes
 * M settles every held user), not in SQL. ACTOR_CACHE_USERS is raised to N + 10,000 when the default
 * (200,000) would not hold them all.
 *   npx tsx bench/lifecycle-expiry.ts [--lots 1000000] [--held N] [--rate 20] [--batch-lots N] [--max-wait 300] [--no-explain] [--keep]
 */

const PARTITION = 0;
const PARTITIONS = 12;

const { values } = parseArgs({
  options: {
    lots: { type: 'string' },
    rate: { type: 'string' },
    'max-wait': { type: 'string' },
    'batch-lots': { type: 'string' },
    'no-explain': { type: 'boolean' },
    keep: { type: 'boolean' },
    held: { type: 'string' },
  },
});
const LOTS = Number(values.lots ?? 1_000_000);
const RATE = Number(values.rate ?? 20);
const MAX_WAIT_S = Number(values['max-wait'] ?? 300);
const BATCH_LOTS = values['batch-lots'];
/** Filled users (exp-0 .. exp-(N-1)) the engine holds in memory when the step comes: each gets one event before it. */
const HELD = Number(values.held ?? 0);
/** The engine's ACTOR_CACHE_USERS default (src/config/env.ts); raised when --held needs more. */
const CACHE_USERS = Math.max(200_000, HELD + 10_000);
/** The engine's EXPIRY_BATCH_LOTS default (src/config/env.ts), for the statement timed on the second fill. */
const BATCH_FOR_TIMING = Number(BATCH_LOTS ?? 2000);
const log = (l: string): void => void process.stderr.write(`[expiry] ${l}\n`);
const secs = (ms: number): string => (ms / 1000).toFixed(3);

/** The midnight the lots expire at: the start of today (UTC); event times around it lie within retention. */
const M = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const CLOCK_BEFORE = M - 10 * 60_000;

/** The state the engine would have left: lots, equal balances, the partition's clock just before M. */
async function fill(adminUrl: string, dbName: string, topic: string): Promise<number> {
  const started = performance.now();
  await ensureDatabase(adminUrl, dbName);
  const pool = new pg.Pool({ connectionString: withDatabase(adminUrl, dbName), max: 2 });
  try {
    await migrate(pool);
    const m = new Date(M).toISOString();
    // lot i: (i*7)%500+1 points, bought at M - 365d (available M - 351d, expires M); every tenth user also 50 points
    // bought at M - 300d (available M - 286d, expires M + 65d), which must survive the step.
    await pool.query(
      `INSERT INTO balances (user_id, points, lifetime_earned, last_partition, last_offset)
       SELECT 'exp-' || i, v, v, $2, 0
       FROM generate_series(0, $1::int - 1) AS i, LATERAL (SELECT (i * 7) % 500 + 1 + CASE WHEN i % 10 = 0 THEN 50 ELSE 0 END AS v) x`,
      [LOTS, PARTITION],
    );
    await pool.query(
      `INSERT INTO point_lots (user_id, available_at, expires_at, remaining, partition)
       SELECT 'exp-' || i, $2::timestamptz - interval '351 days', $2::timestamptz, (i * 7) % 500 + 1, $3
       FROM generate_series(0, $1::int - 1) AS i`,
      [LOTS, m, PARTITION],
    );
    await pool.query(
      `INSERT INTO point_lots (user_id, available_at, expires_at, remaining, partition)
       SELECT 'exp-' || i, $2::timestamptz - interval '286 days', $2::timestamptz + interval '65 days', 50, $3
       FROM generate_series(0, $1::int - 1, 10) AS i`,
      [LOTS, m, PARTITION],
    );
    await pool.query(
      `INSERT INTO consumer_offsets (topic, partition, next_offset, clock) VALUES ($1, $2, 0, $3::timestamptz)`,
      [topic, PARTITION, new Date(CLOCK_BEFORE).toISOString()],
    );
    // A table the engine has lived with: vacuumed (hint bits, visibility map) and analysed.
    await pool.query('VACUUM (ANALYZE) balances, point_lots');
    await pool.query('CHECKPOINT').catch(() => undefined);
  } finally {
    await pool.end();
  }
  return (performance.now() - started) / 1000;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

interface FlushHistogram {
  count: number;
  sum: number;
  /** le -> cumulative count */
  buckets: Map<string, number>;
  expired: number;
}

async function scrape(port: number): Promise<FlushHistogram> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const h: FlushHistogram = { count: 0, sum: 0, buckets: new Map(), expired: 0 };
  for (const line of text.split('\n')) {
    let m = /^loyalty_flush_duration_seconds_bucket\{le="([^"]+)"\} (\S+)/.exec(line);
    if (m) h.buckets.set(m[1]!, Number(m[2]));
    m = /^loyalty_flush_duration_seconds_sum (\S+)/.exec(line);
    if (m) h.sum = Number(m[1]);
    m = /^loyalty_flush_duration_seconds_count (\S+)/.exec(line);
    if (m) h.count = Number(m[1]);
    m = /^loyalty_points_expired_total (\S+)/.exec(line);
    if (m) h.expired = Number(m[1]);
  }
  return h;
}

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

async function main(): Promise<void> {
  applyStackEnv();
  const ends = await stackUp((l) => log(`[stack] ${l}`));
  buildEngine();
  const tag = Date.now().toString(36);
  const dbName = `bench_expiry_${tag}`;
  const topic = `bench_expiry_${tag}`;
  await ensureTopics(ends.kafkaBrokers, [
    { topic, partitions: PARTITIONS },
    { topic: `${topic}.dlq`, partitions: PARTITIONS },
  ]);
  log(`filling ${LOTS} lots expiring at ${new Date(M).toISOString()} into partition ${PARTITION} of ${dbName}`);
  const fillSeconds = await fill(ends.databaseUrl, dbName, topic);
  log(`filled in ${fillSeconds.toFixed(1)} s`);
  const dbUrl = withDatabase(ends.databaseUrl, dbName);
  const db = new pg.Pool({ connectionString: dbUrl, max: 2 });
  const expected = (
    await db.query<{ lots: string; pts: string; extra: string }>(
      `SELECT count(*) FILTER (WHERE expires_at <= $1) AS lots, coalesce(sum(remaining) FILTER (WHERE expires_at <= $1), 0) AS pts,
              count(*) FILTER (WHERE expires_at > $1) AS extra
       FROM point_lots WHERE partition = $2`,
      [new Date(M).toISOString(), PARTITION],
    )
  ).rows[0]!;
  const expiringLots = Number(expected.lots);
  const expiringPoints = Number(expected.pts);

  const rulesFile = path.join(os.tmpdir(), `lifecycle-expiry-${tag}.yaml`);
  writeFileSync(rulesFile, lifecycleRuleYaml());
  const port = await freePort();
  const flushMaxAgeMs = 100; // the engine's default FLUSH_MAX_AGE_MS (src/config/env.ts), set explicitly
  const engine = startEngineChild({
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: `${dbName}_g`,
    DATABASE_URL: dbUrl,
    KAFKA_BROKERS: ends.kafkaBrokers,
    RULES_FILE: rulesFile,
    CLOCK_TICK_MS: '0',
    FLUSH_MAX_AGE_MS: String(flushMaxAgeMs),
    HTTP_PORT: String(port),
    ...(BATCH_LOTS !== undefined && { EXPIRY_BATCH_LOTS: BATCH_LOTS }),
    ...(CACHE_USERS !== 200_000 && { ACTOR_CACHE_USERS: String(CACHE_USERS) }),
  });

  // Commits of partition 0 (next_offset or lifecycle_seq moved: a flush that only expires moves no
  // offset), and once the step is sent whether lots due at M are left, polled every 20 ms.
  const poller = new pg.Client({ connectionString: dbUrl });
  await poller.connect();
  const sentAt: number[] = [];
  const committedAt: number[] = [];
  const commits: { t: number; next: number }[] = [];
  let stored = 0;
  let storedSeq = -1;
  let stepOffset = -1;
  let polling = true;
  let watchDue = false;
  let allExpiredAt = NaN;
  const poll = (async () => {
    while (polling) {
      const r = await poller.query<{ n: string; seq: string; due: boolean }>(
        `SELECT next_offset AS n, lifecycle_seq AS seq,
                $3::boolean AND EXISTS (SELECT 1 FROM point_lots WHERE partition = $2 AND expires_at <= $4) AS due
         FROM consumer_offsets WHERE topic = $1 AND partition = $2`,
        [topic, PARTITION, watchDue, new Date(M).toISOString()],
      );
      const t = performance.now();
      const next = Number(r.rows[0]?.n ?? 0);
      const seq = Number(r.rows[0]?.seq ?? 0);
      if (next > stored || seq !== storedSeq) {
        if (storedSeq >= 0) commits.push({ t, next });
        for (let o = stored; o < next; o++) committedAt[o] = t;
        stored = Math.max(stored, next);
        storedSeq = seq;
      }
      if (watchDue && stepOffset >= 0 && stored > stepOffset && r.rows[0]?.due === false && Number.isNaN(allExpiredAt))
        allExpiredAt = t;
      await new Promise((res) => setTimeout(res, 20));
    }
  })();

  // GET /points of sampled filled users, once the step's commit (its clock, past M) is seen: the points
  // due at M must not be shown as spendable, whether or not their expire rows are written yet.
  const api = { reads: 0, wrong: 0, firstWrong: '' };
  let sampling = true;
  const sample = async (): Promise<void> => {
    while (sampling) {
      if (stored > stepOffset && stepOffset >= 0) {
        for (let j = 0; j < 20; j++) {
          const i = Math.floor(Math.random() * LOTS);
          const res = await fetch(`http://127.0.0.1:${port}/points/exp-${i}`);
          if (res.status !== 200) continue;
          const body = (await res.json()) as { points: number; next_expiry: { at: string } | null };
          api.reads++;
          const want = i % 10 === 0 ? 50 : 0;
          const nextAt = body.next_expiry === null ? null : Date.parse(body.next_expiry.at);
          if (body.points !== want || (nextAt !== null && nextAt <= M)) {
            api.wrong++;
            if (api.firstWrong === '') api.firstWrong = `exp-${i}: ${JSON.stringify(body)}`;
          }
        }
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  };

  const producer = new KafkaJS.Kafka({
    kafkaJS: { brokers: ends.kafkaBrokers.split(','), logLevel: KafkaJS.logLevel.ERROR },
  }).producer({ 'linger.ms': 0, kafkaJS: { idempotent: true, acks: -1 } });
  await producer.connect();
  // One message per awaited send into a fresh partition: the n-th message sent has offset n.
  const send = async (user: string, ms: number): Promise<number> => {
    const offset = sentAt.length;
    sentAt.push(performance.now());
    const body = {
      user_id: user,
      event_type: 'purchase',
      amount: 10,
      timestamp: new Date(ms).toISOString(),
      event_id: `e-${offset}`,
    };
    await producer.send({ topic, messages: [{ key: user, value: JSON.stringify(body), partition: PARTITION }] });
    return offset;
  };
  // Many messages in one send (the held users' events): offsets follow the order given.
  const sendMany = async (bodies: { user_id: string }[]): Promise<void> => {
    const messages = bodies.map((b) => {
      sentAt.push(performance.now());
      return { key: b.user_id, value: JSON.stringify(b), partition: PARTITION };
    });
    await producer.send({ topic, messages });
  };
  const gapMs = 1000 / RATE;
  let k = 0;
  /** Offsets of the trickle's events (latency before and after the step is theirs). */
  const trickleOffsets: number[] = [];
  const trickle = async (baseMs: number): Promise<void> => {
    trickleOffsets.push(sentAt.length);
    await send(`trickle-${k % 100}`, baseMs + k * 10);
    k++;
    await new Promise((res) => setTimeout(res, gapMs));
  };

  let before: FlushHistogram | undefined;
  let after: FlushHistogram | undefined;
  let stepCommitted = false;
  try {
    // Before the step: the engine starts, opens partition 0 (clock M - 10 min) and commits the trickle.
    const warmStart = performance.now();
    while (stored < 1 || performance.now() - (committedAt[0] ?? Infinity) < 5000) {
      if (engine.proc.exitCode !== null) throw new Error(`engine exited with ${engine.proc.exitCode}`);
      if (performance.now() - warmStart > 120_000) throw new Error('the engine committed nothing within 120 s');
      await trickle(M - 5 * 60_000);
    }
    while (stored < sentAt.length) await new Promise((res) => setTimeout(res, 20));
    if (HELD > 0) {
      // Load the held users: one refused refund each, before M (the clock stays before M).
      const t0 = performance.now();
      for (let i = 0; i < HELD; i += 5000) {
        const bodies = [];
        for (let j = i; j < Math.min(HELD, i + 5000); j++)
          bodies.push({
            user_id: `exp-${j}`,
            event_type: 'refund',
            amount: 1,
            original_event_id: 'none',
            timestamp: new Date(M - 4 * 60_000).toISOString(),
            event_id: `h-${j}`,
          });
        await sendMany(bodies);
      }
      while (stored < sentAt.length) {
        if (engine.proc.exitCode !== null) throw new Error(`engine exited with ${engine.proc.exitCode}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      log(`${HELD} held users loaded (their events committed) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      // The trickle again for 5 s, so that "before the step" is the trickle's steady latency.
      const t1 = performance.now();
      while (performance.now() - t1 < 5000) await trickle(M - 3 * 60_000);
      while (stored < sentAt.length) await new Promise((res) => setTimeout(res, 20));
    }
    const preCount = sentAt.length;
    before = await scrape(port);
    log(`warm: ${preCount} events committed; producing the step (event time M + 1 s)`);
    stepOffset = sentAt.length;
    watchDue = true;
    const sampler = sample();
    await send('step-user', M + 1000);
    const waitStart = performance.now();
    // After it: the trickle goes on until the step has committed, no lot due at M is left, and 5 s more (or --max-wait passed).
    let doneAt = Infinity;
    while (performance.now() < doneAt) {
      if (engine.proc.exitCode !== null) throw new Error(`engine exited with ${engine.proc.exitCode}`);
      await trickle(M + 2000);
      if (!stepCommitted && stored > stepOffset) {
        stepCommitted = true;
        log(`step committed ${secs(committedAt[stepOffset]! - sentAt[stepOffset]!)} s after it was produced`);
      }
      if (stepCommitted && !Number.isNaN(allExpiredAt) && doneAt === Infinity) {
        doneAt = performance.now() + 5000;
        log(`no lot due at M left ${secs(allExpiredAt - sentAt[stepOffset]!)} s after the step was produced`);
      }
      if (doneAt === Infinity && performance.now() - waitStart > MAX_WAIT_S * 1000) {
        log(`the step (or its expiry) did not finish within ${MAX_WAIT_S} s`);
        break;
      }
    }
    sampling = false;
    await sampler;
    const lastSent = sentAt.length;
    const drainStart = performance.now();
    while (stepCommitted && stored < lastSent && performance.now() - drainStart < 60_000)
      await new Promise((res) => setTimeout(res, 20));
    after = await scrape(port);
  } finally {
    await producer.disconnect();
    engine.proc.kill('SIGTERM');
    await engine.exited;
    polling = false;
    await poll;
    await poller.end();
  }

  const hw = (await highWatermarks(ends.kafkaBrokers, topic)).get(PARTITION) ?? 0;
  if (hw !== sentAt.length) throw new Error(`partition ${PARTITION} holds ${hw} messages, ${sentAt.length} were sent`);

  // Figures.
  const latency = (o: number): number => (committedAt[o] ?? NaN) - sentAt[o]!;
  const preOffsets = trickleOffsets.filter((o) => o < stepOffset);
  const pre = preOffsets.slice(Math.floor(preOffsets.length / 2)).map(latency);
  const post = trickleOffsets
    .filter((o) => o > stepOffset)
    .map(latency)
    .filter((x) => !Number.isNaN(x));
  const stepSent = sentAt[stepOffset]!;
  // The longest time without a commit while the step was pending or after it.
  let longestGap = 0;
  let prevT = commits.filter((c) => c.t <= stepSent).at(-1)?.t ?? stepSent;
  for (const c of commits.filter((x) => x.t > stepSent)) {
    longestGap = Math.max(longestGap, c.t - Math.max(prevT, stepSent));
    prevT = c.t;
  }
  if (!stepCommitted) longestGap = Math.max(longestGap, performance.now() - Math.max(prevT, stepSent));
  const allExpired = allExpiredAt - stepSent;
  // The same, only while the backlog lasted (commits of expiry-only flushes count).
  let backlogGap = 0;
  let prevB = stepSent;
  for (const c of commits.filter((x) => x.t > stepSent && x.t <= allExpiredAt)) {
    backlogGap = Math.max(backlogGap, c.t - prevB);
    prevB = c.t;
  }
  const flushes = before && after ? after.count - before.count : NaN;
  const flushSum = before && after ? after.sum - before.sum : NaN;
  const over = (le: string): number =>
    before && after ? flushes - ((after.buckets.get(le) ?? 0) - (before.buckets.get(le) ?? 0)) : NaN;
  const stepToCommit = stepCommitted ? latency(stepOffset) : NaN;

  // Correctness (engine stopped).
  const mIso = new Date(M).toISOString();
  const q = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number(Object.values((await db.query(sql, params)).rows[0] as Record<string, unknown>)[0] ?? 0);
  const checks: Record<string, string | number>[] = [];
  const check = (name: string, got: number, want: number): void => {
    checks.push({ check: name, got, expected: want, ok: got === want ? 'yes' : 'NO' });
  };
  check(
    'lots expired at M left in point_lots',
    await q('SELECT count(*) FROM point_lots WHERE partition = $1 AND expires_at <= $2', [PARTITION, mIso]),
    0,
  );
  check(
    'later lots of the filled users kept',
    await q(`SELECT count(*) FROM point_lots WHERE user_id LIKE 'exp-%' AND expires_at > $1`, [mIso]),
    Number(expected.extra),
  );
  check(
    'filled users whose balance != before - expired',
    await q(
      `SELECT count(*) FROM balances b, LATERAL (SELECT substr(b.user_id, 5)::int AS i) x
       WHERE b.user_id LIKE 'exp-%' AND b.points <> CASE WHEN x.i % 10 = 0 THEN 50 ELSE 0 END`,
    ),
    0,
  );
  check(
    'balance points of filled users',
    await q(`SELECT sum(points) FROM balances WHERE user_id LIKE 'exp-%'`),
    50 * Number(expected.extra),
  );
  check(
    'expire rows in the ledger',
    await q(`SELECT count(*) FROM point_transactions WHERE event_type = 'expire' AND user_id LIKE 'exp-%'`),
    expiringLots,
  );
  check(
    'users with exactly one expire row at M',
    await q(
      `SELECT count(*) FROM (SELECT user_id FROM point_transactions WHERE event_type = 'expire' AND event_time = $1
       GROUP BY user_id HAVING count(*) = 1) x`,
      [mIso],
    ),
    expiringLots,
  );
  check(
    'points of the expire rows (negated)',
    await q(`SELECT -coalesce(sum(points), 0) FROM point_transactions WHERE event_type = 'expire'`),
    expiringPoints,
  );
  check(
    'expire rows whose balance_after != the balance',
    await q(
      `SELECT count(*) FROM point_transactions t JOIN balances b USING (user_id)
       WHERE t.event_type = 'expire' AND t.balance_after <> b.points`,
    ),
    0,
  );
  check(
    "expire rows not at the user's last offset / partition 0",
    await q(
      `SELECT count(*) FROM point_transactions t JOIN balances b USING (user_id)
       WHERE t.event_type = 'expire' AND (t.kafka_offset <> b.last_offset OR t.partition <> $1)`,
      [PARTITION],
    ),
    0,
  );
  check('loyalty_points_expired_total (engine metric)', after ? after.expired : NaN, expiringPoints);
  check('GET /points reads after the step showing expired points', api.wrong, 0);
  check(
    'stored clock >= M + 1 s',
    await q('SELECT (clock >= $3::timestamptz)::int FROM consumer_offsets WHERE topic = $1 AND partition = $2', [
      topic,
      PARTITION,
      new Date(M + 1000).toISOString(),
    ]),
    1,
  );
  await db.end();

  // The expiry statements under EXPLAIN ANALYZE, on a second identical fill (the first one is spent).
  const plans: string[] = [];
  const batchMs: number[] = [];
  if (!values['no-explain']) {
    const db2 = `${dbName}_x`;
    log('second fill for EXPLAIN ANALYZE');
    await fill(ends.databaseUrl, db2, topic);
    const c = new pg.Client({ connectionString: withDatabase(ends.databaseUrl, db2), options: sessionOptions() });
    await c.connect();
    try {
      await c.query('SELECT ledger_ensure_partitions($1::date, $1::date)', [mIso.slice(0, 10)]);
      const id = (await c.query<{ id: number }>("INSERT INTO rules_versions (version) VALUES ('bench') RETURNING id"))
        .rows[0]!.id;
      const explaining = {
        query: async (sql: string, params: unknown[]) => {
          const r = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
          plans.push(r.rows.map((x) => x['QUERY PLAN']).join('\n'));
          return { rows: [] };
        },
      } as unknown as pg.PoolClient;
      await expiringMoments(explaining, PARTITION, M + 1000);
      await c.query('BEGIN');
      await expireDue(explaining, PARTITION, M + 1000, id, BATCH_FOR_TIMING);
      // Ten more of the bounded statement as a flush runs it (each after the previous one's deletes).
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        await expireDue(c as unknown as pg.PoolClient, PARTITION, M + 1000, id, BATCH_FOR_TIMING);
        batchMs.push(performance.now() - t0);
      }
      await c.query('ROLLBACK');
    } finally {
      await c.end();
    }
    if (!values.keep) await dropDatabase(ends.databaseUrl, db2);
  }
  if (!values.keep) await dropDatabase(ends.databaseUrl, dbName);

  const f = (x: number): string => (Number.isNaN(x) ? 'n/a' : secs(x));
  console.log(`\nnpx tsx bench/lifecycle-expiry.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
  console.log(
    `${expiringLots} lots (${expiringPoints} points) expiring at ${mIso} in partition ${PARTITION} of ${PARTITIONS}, ` +
      `${Number(expected.extra)} later lots; ${HELD > 0 ? `${HELD} of the users held by the engine (ACTOR_CACHE_USERS=${CACHE_USERS}), the rest` : 'users'} not held (expired in SQL); trickle ${RATE} events/s; ` +
      `FLUSH_MAX_AGE_MS=${flushMaxAgeMs}; fill ${fillSeconds.toFixed(1)} s\n`,
  );
  console.log(
    table([
      { figure: 'flush interval (FLUSH_MAX_AGE_MS)', seconds: secs(flushMaxAgeMs) },
      { figure: 'trickle produce -> commit, before the step (p50)', seconds: f(quantile(pre, 0.5)) },
      { figure: 'trickle produce -> commit, before the step (max)', seconds: f(Math.max(...pre)) },
      {
        figure: stepCommitted ? 'step event produce -> commit' : `step event: NOT committed within ${MAX_WAIT_S} s`,
        seconds: f(stepToCommit),
      },
      { figure: 'longest time partition 0 went without a commit (from the step)', seconds: secs(longestGap) },
      { figure: '... of which while due lots were left', seconds: f(backlogGap) },
      { figure: 'step produced -> no lot due at M left', seconds: f(allExpired) },
      { figure: 'trickle produce -> commit, after the step (max)', seconds: f(post.length ? Math.max(...post) : NaN) },
      { figure: 'trickle produce -> commit, after the step (p50)', seconds: f(quantile(post, 0.5)) },
      { figure: `flushes from the step on: count ${flushes}, total seconds`, seconds: flushSum.toFixed(3) },
      {
        figure: 'of which longer than 0.1 s / 1 s / 10 s (histogram)',
        seconds: `${over('0.1')} / ${over('1')} / ${over('10')}`,
      },
      {
        figure: `GET /points reads of filled users after the step's commit, showing expired points`,
        seconds: `${api.wrong} of ${api.reads}${api.firstWrong === '' ? '' : ` (first: ${api.firstWrong})`}`,
      },
      {
        figure: `expireDue of ${BATCH_FOR_TIMING} lots alone, second fill (10 runs: min / median / max)`,
        seconds: batchMs.length
          ? `${secs(Math.min(...batchMs))} / ${secs(quantile(batchMs, 0.5))} / ${secs(Math.max(...batchMs))}`
          : 'n/a',
      },
      {
        figure: 'stall / flush interval',
        seconds: stepCommitted
          ? `${(stepToCommit / flushMaxAgeMs).toFixed(0)}x`
          : `>${((MAX_WAIT_S * 1000) / flushMaxAgeMs).toFixed(0)}x`,
      },
    ]),
  );
  console.log('\nCorrectness after the step:\n');
  console.log(table(checks));
  for (const p of plans) console.log(`\n${p}`);
  const bad = checks.filter((c) => c.ok !== 'yes').length;
  if (!stepCommitted || bad > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(`[expiry] error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
