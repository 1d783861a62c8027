import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ensureTopics } from '../src/kafka/admin.js';
import { ExpectedBalances } from '../src/simulator/expected-balances.js';
import { generateMessages } from '../src/simulator/generator.js';
import { produceMessages } from '../src/simulator/produce.js';
import { ROOT_DIR } from '../src/stack/paths.js';
import { ensureDatabase, withDatabase } from '../src/stack/postgres-server.js';
import { stackUp } from '../src/stack/stack.js';
import { applyStackEnv } from '../src/stack/env-file.js';
import { kcatRate, rawConsumerRate } from './baselines.js';
import { lineChartSvg } from './chart.js';
import { naiveConsumerRate } from './naive-consumer.js';
import { now, progress, startEngineChild, table } from './support.js';

/**
 * Backlog drain: N events preloaded, then, on the same backlog and in the same run, the
 * engine from a cold start until every event is committed in Postgres (balances checked),
 * beside the same librdkafka client doing no processing, kcat, and a naive per-event consumer.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, events: { type: 'string' }, partitions: { type: 'string' }, users: { type: 'string' }, threads: { type: 'string' } },
  });
  applyStackEnv();
  const events = Number(values.events ?? (values.quick ? 200_000 : 2_000_000));
  const partitions = Number(values.partitions ?? 12);
  const users = Number(values.users ?? 100_000);
  const naiveSlice = values.quick ? 3_000 : 10_000;
  const ends = await stackUp((l) => process.stderr.write(`[stack] ${l}\n`));
  const run = `bench_${Date.now().toString(36)}`;
  const topic = `${run}_events`;
  await ensureTopics(ends.kafkaBrokers, [{ topic, partitions }, { topic: `${topic}.dlq`, partitions }]);

  // 1. The backlog, and the independent replay's expected balances.
  const expected = new ExpectedBalances();
  const gen = generateMessages(events, { users, skew: 1.1, redeemRatio: 0.2, badRatio: 0.001, seed: 2026 });
  const pp = progress(`producing ${events} events`);
  const produced = await produceMessages(ends.kafkaBrokers, topic, (function* () {
    for (const m of gen) {
      expected.add(m);
      yield m;
    }
  })(), { batchSize: 5000, onProgress: (p) => pp.update(`${p.sent} sent, ${Math.round(p.sent / (p.elapsedMs / 1000))}/s`) });
  pp.done(`${produced.sent} sent in ${(produced.elapsedMs / 1000).toFixed(1)} s`);

  // 2. Ceilings on the same backlog.
  const raw = await rawConsumerRate(ends.kafkaBrokers, topic, partitions, events);
  const kcat = await kcatRate(ends.kafkaBrokers, topic, events);

  // 3. The engine, cold start to fully committed.
  const dbName = `${run}_db`;
  await ensureDatabase(ends.databaseUrl, dbName);
  const dbUrl = withDatabase(ends.databaseUrl, dbName);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  const ep = progress('engine drain');
  const started = now();
  const engine = startEngineChild({
    KAFKA_TOPIC: topic, KAFKA_GROUP_ID: `${run}_g`, DATABASE_URL: dbUrl, KAFKA_BROKERS: ends.kafkaBrokers,
    ...(values.threads && { WORKER_THREADS: values.threads }),
  });
  const series: [number, number][] = [];
  let committed = 0;
  let peakRssKb = 0;
  let firstCommitAt = 0;
  while (committed < events) {
    await new Promise((r) => setTimeout(r, 250));
    if (engine.proc.exitCode !== null) throw new Error(`engine exited with ${engine.proc.exitCode}`);
    const r = await pool.query<{ s: string | null }>('SELECT sum(next_offset) AS s FROM consumer_offsets WHERE topic = $1', [topic]).catch(() => ({ rows: [{ s: null }] }));
    committed = Number(r.rows[0]?.s ?? 0);
    const t = (now() - started) / 1000;
    if (committed > 0 && firstCommitAt === 0) firstCommitAt = t;
    series.push([t, committed]);
    peakRssKb = Math.max(peakRssKb, rssKb(engine.proc.pid));
    ep.update(`${committed}/${events} committed, ${t.toFixed(1)} s`);
  }
  const engineSeconds = (now() - started) / 1000;
  ep.done(`${events} committed in ${engineSeconds.toFixed(2)} s (first commit at ${firstCommitAt.toFixed(2)} s)`);
  engine.proc.kill('SIGTERM');
  await engine.exited;

  // 4. Exactness of what was measured.
  const rows = await pool.query<{ user_id: string; points: string }>('SELECT user_id, points FROM balances');
  const actual = new Map(rows.rows.map((x) => [x.user_id, Number(x.points)]));
  let mismatches = 0;
  for (const [u, p] of expected.balances) if (actual.get(u) !== p) mismatches++;
  mismatches += [...actual.keys()].filter((u) => !expected.balances.has(u)).length;
  await pool.end();

  // 5. The seed's design on a slice.
  const naiveDb = `${run}_naive`;
  await ensureDatabase(ends.databaseUrl, naiveDb);
  const naive = await naiveConsumerRate(ends.kafkaBrokers, withDatabase(ends.databaseUrl, naiveDb), topic, partitions, naiveSlice);

  const engineRate = events / engineSeconds;
  const rowsOut = [
    { consumer: 'engine (decode, rules, COPY+merge, exact)', events, seconds: engineSeconds.toFixed(2), 'events/s': Math.round(engineRate), 'vs raw client': ratio(engineRate, raw.rate) },
    { consumer: 'same librdkafka client, no processing', events, seconds: raw.seconds.toFixed(2), 'events/s': Math.round(raw.rate), 'vs raw client': '1.00' },
    ...(kcat ? [{ consumer: 'kcat to /dev/null (C)', events, seconds: kcat.seconds.toFixed(2), 'events/s': Math.round(kcat.rate), 'vs raw client': ratio(kcat.rate, raw.rate) }] : []),
    { consumer: 'naive: one transaction per event', events: naive.events, seconds: naive.seconds.toFixed(2), 'events/s': Math.round(naive.rate), 'vs raw client': ratio(naive.rate, raw.rate) },
  ];
  const result = {
    at: new Date().toISOString(),
    command: `npm run bench${values.quick ? ' -- --quick' : ''}`,
    machine: { cores: os.availableParallelism(), memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    events, partitions, users,
    engine: { seconds: engineSeconds, rate: engineRate, firstCommitSeconds: firstCommitAt, peakRssMiB: Math.round(peakRssKb / 1024), mismatches },
    raw, kcat, naive,
    ratios: { engineVsRaw: engineRate / raw.rate, engineVsNaive: engineRate / naive.rate },
    series,
  };
  const dir = path.join(ROOT_DIR, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const stamp = result.at.replace(/[:.]/g, '-');
  writeFileSync(path.join(dir, `${stamp}.json`), JSON.stringify(result, null, 2));
  const rates: [number, number][] = series.map((p, i) => [p[0], i === 0 ? 0 : (p[1] - series[i - 1]![1]) / (p[0] - series[i - 1]![0])]);
  writeFileSync(path.join(dir, `${stamp}-drain.svg`), lineChartSvg(`Backlog drain: ${events} events, ${partitions} partitions`, 'seconds since engine start', 'events committed per second', [
    { name: 'engine commit rate', points: rates, color: '#1f77b4' },
    { name: `raw client average (${Math.round(raw.rate)}/s)`, points: [[0, raw.rate], [engineSeconds, raw.rate]], color: '#d62728' },
  ]));
  console.log(`\nBacklog drain on ${result.machine.cores} cores (Kafka, Postgres and the engine share them), ${events} events, ${partitions} partitions, ${users} users`);
  console.log(table(rowsOut));
  console.log(`\nengine vs raw client: ${ratio(engineRate, raw.rate)}x   engine vs naive: ${ratio(engineRate, naive.rate)}x   balances checked: ${expected.balances.size} users, ${mismatches} mismatches`);
  console.log(`engine peak RSS ${result.engine.peakRssMiB} MiB; results: bench/results/${stamp}.json, chart: bench/results/${stamp}-drain.svg`);
  if (mismatches > 0) process.exitCode = 1;
}

function ratio(a: number, b: number): string {
  return (a / b).toFixed(2);
}

function rssKb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

main().catch((e: unknown) => {
  console.error(`[bench] error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exit(1);
});
