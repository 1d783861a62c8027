import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAdmin, ensureTopics, highWatermarks } from '../src/kafka/admin.js';
import { KAFKA_VERSION } from '../tools/stack/kafka-broker.js';
import { ROOT_DIR } from '../tools/stack/paths.js';
import { rssKb } from './engine-drain.js';
import { now, progress } from './support.js';

/**
 * The Kafka Streams baseline (bench/baselines/kafka-streams/): what an expert would build instead of the
 * engine, exactly_once_v2 with a RocksDB store per user. Timed like the engine: from process start until
 * the application's group has committed every offset of the backlog; its balances, read back from its
 * output topic, are checked against the same replay.
 */

const APP_DIR = path.join(ROOT_DIR, 'bench/baselines/kafka-streams');
const CLASSPATH = `${path.join(APP_DIR, 'target/classes')}:${path.join(APP_DIR, 'target/lib')}/*`;
/** The JVM's options: the class path, and Kafka's own INFO logging (slf4j-simple) silenced. */
const JAVA_ARGS = ['-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', CLASSPATH];

/** Builds the app with Maven; returns why it cannot run (one line) when Java or Maven is missing or the build fails. */
export function buildKafkaStreams(): string | null {
  for (const [tool, flag] of [
    ['java', '-version'],
    ['mvn', '-v'],
  ] as const) {
    if (spawnSync(tool, [flag], { stdio: 'ignore' }).status !== 0)
      return `${tool} not found: Kafka Streams baseline skipped`;
  }
  try {
    // -q: quiet unless it fails. The first build fetches kafka-streams from Maven Central; later ones are offline.
    execFileSync('mvn', ['-q', '-B', 'package', `-Dkafka.version=${KAFKA_VERSION}`], {
      cwd: APP_DIR,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    return null;
  } catch (e) {
    return `Maven build of bench/baselines/kafka-streams failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)}): Kafka Streams baseline skipped`;
  }
}

export interface StreamsDrainResult {
  threads: number;
  seconds: number;
  rate: number;
  firstCommitSeconds: number;
  peakRssMiB: number;
  /** [seconds since start, events committed] */
  series: [number, number][];
  /** Messages the app counted as invalid and skipped (the engine dead-letters them). */
  invalid: number;
  outputTopic: string;
  appId: string;
}

/** Starts the app on the backlog with a fresh application id and state directory; returns once every offset is committed and the app has stopped. */
export async function drainWithKafkaStreams(o: {
  label: string;
  brokers: string;
  topic: string;
  events: number;
  threads: number;
  runId: string;
}): Promise<StreamsDrainResult> {
  const appId = `${o.runId}_streams`;
  const outputTopic = `${appId}_balances`;
  const ends = await highWatermarks(o.brokers, o.topic);
  await ensureTopics(o.brokers, [{ topic: outputTopic, partitions: ends.size }]);
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'loyalty-streams-'));
  const admin = createAdmin(o.brokers);
  await admin.connect();
  const p = progress(o.label);
  const started = now();
  const proc = spawn(
    'java',
    [
      ...JAVA_ARGS,
      'local.loyalty.streams.LoyaltyStreamsApp',
      '--brokers',
      o.brokers,
      '--topic',
      o.topic,
      '--output',
      outputTopic,
      '--app-id',
      appId,
      '--state-dir',
      stateDir,
      '--threads',
      String(o.threads),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const series: [number, number][] = [];
  let committed = 0;
  let firstCommitAt = 0;
  let peakRssKb = 0;
  try {
    while (committed < o.events) {
      await new Promise((r) => setTimeout(r, 250));
      if (proc.exitCode !== null)
        throw new Error(`Kafka Streams app exited with ${proc.exitCode}: ${stderr.slice(-2000)}`);
      committed = await committedOffsets(admin, appId, o.topic, ends);
      const t = (now() - started) / 1000;
      if (committed > 0 && firstCommitAt === 0) firstCommitAt = t;
      series.push([t, committed]);
      peakRssKb = Math.max(peakRssKb, rssKb(proc.pid));
      p.update(`${committed}/${o.events} committed, ${t.toFixed(1)} s`);
    }
  } finally {
    proc.kill('SIGTERM');
    await exited;
    await admin.disconnect();
    rmSync(stateDir, { recursive: true, force: true });
  }
  const seconds = series[series.length - 1]![0];
  const invalid = /invalid=(\d+)/.exec(stderr);
  p.done(
    `${o.events} committed in ${seconds.toFixed(2)} s (first commit at ${firstCommitAt.toFixed(2)} s, ${o.threads} stream thread${o.threads > 1 ? 's' : ''})`,
  );
  return {
    threads: o.threads,
    seconds,
    rate: o.events / seconds,
    firstCommitSeconds: firstCommitAt,
    peakRssMiB: Math.round(peakRssKb / 1024),
    series,
    invalid: invalid ? Number(invalid[1]) : -1,
    outputTopic,
    appId,
  };
}

/** Offsets the group has committed, capped per partition at the backlog's end, summed (-1 = none yet). */
async function committedOffsets(
  admin: ReturnType<typeof createAdmin>,
  groupId: string,
  topic: string,
  ends: Map<number, number>,
): Promise<number> {
  const res = await admin.fetchOffsets({ groupId, topics: [topic], timeout: 5000 }).catch(() => []);
  let sum = 0;
  for (const t of res)
    for (const x of t.partitions) sum += Math.min(Math.max(0, Number(x.offset)), ends.get(x.partition) ?? 0);
  return sum;
}

/** Each user's last balance on the app's output topic (committed transactions only), read by the app's own dump tool. */
export async function streamsBalances(brokers: string, outputTopic: string): Promise<Map<string, number>> {
  const proc = spawn(
    'java',
    [...JAVA_ARGS, 'local.loyalty.streams.BalancesDump', '--brokers', brokers, '--topic', outputTopic],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const chunks: Buffer[] = [];
  proc.stdout.on('data', (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  if (code !== 0) throw new Error(`BalancesDump exited with ${code}`);
  const out = new Map<string, number>();
  for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) out.set(line.slice(0, tab), Number(line.slice(tab + 1)));
  }
  return out;
}

/** Deletes what a run left on the broker: its output and changelog topics and its consumer group. */
export async function removeStreamsRun(brokers: string, r: StreamsDrainResult): Promise<void> {
  const admin = createAdmin(brokers);
  await admin.connect();
  try {
    const mine = (await admin.listTopics({ timeout: 10_000 })).filter(
      (t) => t === r.outputTopic || t.startsWith(`${r.appId}-`),
    );
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 30_000 });
    const [g] = await admin.deleteGroups([r.appId], { timeout: 10_000 }).catch(() => []);
    if (g === undefined || (g.errorCode ?? 0) !== 0)
      process.stderr.write(`[bench] consumer group ${r.appId} not deleted (error ${g?.errorCode ?? 'unknown'})\n`);
  } finally {
    await admin.disconnect();
  }
}
