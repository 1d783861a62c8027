import type pg from 'pg';
import type { ChaosRow } from '../chaos-row.js';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAdmin, topicMessageCount } from '../../../src/kafka/admin.js';
import { generateMessages, type GeneratorOptions, type SimulatedMessage } from '../../../tools/simulator/generator.js';
import { produceMessages } from '../../../tools/simulator/produce.js';
import { kcatBinary, produceWithKcat, type LineMessage } from '../../../tools/simulator/kcat-producer.js';
import { ROOT_DIR } from '../../../tools/stack/paths.js';
import { serverSettings, tunedPostgres } from '../../../tools/stack/postgres-server.js';
import { held as hugePagesHeld, hugePageCounts } from '../../../tools/stack/huge-pages.js';
import { committedEvents } from '../../../src/store/offsets.js';
import { engineEnv, type EngineProcess } from '../../integration/support/engine-process.js';
import { compareBalances, ledgerCounts, waitForDrain } from '../../integration/support/scenario.js';
import { freshDatabase, stackEnv, uniqueName, waitFor } from '../../integration/support/stack.js';
import { launchEngine } from '../netns/engine-launch.js';
import { histogramBuckets, metricSum, scrape } from '../netns/exposition.js';
import { soakChartSvg } from './chart.js';
import { cyclicBlock, weeksAt } from './cyclic-stream.js';
import { add, increase, type Buckets } from './histogram-window.js';
import { CpuSampler, cpuSecondsBetween } from '../../../bench/cpu.js';
import {
  cpuPerEvent,
  recoveries,
  relativeChange,
  windowFigures,
  type CpuMinute,
  type Fault,
  type SoakSample,
} from './verdict.js';

export interface SoakOptions {
  minutes: number;
  /** Events/s; measured (60 % of a backlog drain) when absent. */
  rate?: number;
  /** A checkout whose engine (src/main.ts) to run; this one by default. */
  engineRoot?: string;
  /** 'tuned' (default): a private cluster with PRODUCTION_SETTINGS; 'stack': the stack's server as it is. */
  postgres?: 'tuned' | 'stack';
  log: (line: string) => void;
}

export interface SoakOutcome {
  passed: boolean;
  events: number;
  lost: number;
  wrong: number;
  summary: string[];
}

/**
 * The soak's users are many and their popularity mild (zipf 0.5), as a loyalty programme's are: a 30-minute
 * run sends about 70M events, and 20,000 zipf-1 users (an earlier choice) gave each thousands of events a
 * week, the top one a tenth of all traffic: a stress of one user's duplicate window, not a steady state.
 */
const GEN: GeneratorOptions = {
  users: 200_000,
  skew: 0.5,
  redeemRatio: 0,
  refundRatio: 0.05,
  duplicateRatio: 0.02,
  badRatio: 0.001,
  seed: 77,
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A topic of the soak's own that keeps 5 minutes of data, so a long soak does not fill the broker's disk. */
async function soakTopic(brokers: string, partitions: number): Promise<{ topic: string; drop: () => Promise<void> }> {
  const topic = uniqueName('soak');
  const admin = createAdmin(brokers);
  await admin.connect();
  const configEntries = [
    { name: 'retention.ms', value: '300000' },
    { name: 'segment.ms', value: '60000' },
  ];
  await admin.createTopics({
    timeout: 30_000,
    topics: [topic, `${topic}.dlq`].map((t) => ({
      topic: t,
      numPartitions: partitions,
      replicationFactor: 1,
      configEntries,
    })),
  });
  await admin.disconnect();
  return {
    topic,
    drop: async () => {
      const a = createAdmin(brokers);
      await a.connect();
      await a.deleteTopics({ topics: [topic, `${topic}.dlq`], timeout: 30_000 }).catch(() => undefined);
      await a.disconnect();
    },
  };
}

/** Events/s one engine drains from a backlog, counted from its first commit (start-up excluded). */
async function measureDrain(
  brokers: string,
  events: number,
  root: string | undefined,
  log: (l: string) => void,
): Promise<number> {
  const db = await freshDatabase();
  const t = await soakTopic(brokers, 12);
  let engine: EngineProcess | undefined;
  try {
    await produceMessages(brokers, t.topic, generateMessages(events, GEN));
    engine = await launchEngine({ root, env: engineEnv(t.topic, db.url, { KAFKA_BROKERS: brokers }) });
    const first = await waitFor<[number, number]>(
      'first commit',
      async () =>
        (await committedEvents(db.pool, t.topic)) > 0
          ? [Date.now(), await committedEvents(db.pool, t.topic)]
          : undefined,
      120_000,
      50,
    );
    await waitForDrain(db.pool, t.topic, events, 300_000);
    const rate = (events - first[1]) / ((Date.now() - first[0]) / 1000);
    log(`drain: ${events} events at ${Math.round(rate)} events/s`);
    return rate;
  } finally {
    await engine?.stop('SIGKILL');
    await db.drop();
    await t.drop();
  }
}

/** Lines as the JavaScript producer takes them (when kcat is missing). */
function* asSimulated(lines: Iterable<LineMessage>): Generator<SimulatedMessage> {
  for (const m of lines)
    yield { key: m.key, value: typeof m.value === 'string' ? Buffer.from(m.value) : m.value, bad: false };
}

function rssMiB(pid: number | undefined): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? 0 : Number(kb) / 1024;
  } catch {
    return 0;
  }
}

/** Kills every u, a second engine joining at 1.5u, 3.5u, 5.5u and leaving a quarter u later; u = the run / 6. */
export function faultPlan(totalSeconds: number): Fault[] {
  const u = totalSeconds / 6;
  const plan: Fault[] = [];
  for (let k = 1; k * u < totalSeconds - 1; k++) plan.push({ t: k * u, kind: 'kill' });
  for (let j = 1.5; j * u < totalSeconds - 1; j += 2) {
    plan.push({ t: j * u, kind: 'join' });
    if ((j + 0.25) * u < totalSeconds - 1) plan.push({ t: (j + 0.25) * u, kind: 'leave' });
  }
  return plan.sort((a, b) => a.t - b.t);
}

/**
 * The soak (issue #15): steady load at 60 % of the machine's drain rate for `minutes`, a SIGKILL
 * and restart every sixth of the run (5 min in 30), a second engine joining and leaving every
 * third; RSS, lag and flush p99 sampled each second and drawn; the verdict compares the second
 * and last sixths, checks that lag comes back after each fault, and every balance at the end.
 */
export async function runSoak(o: SoakOptions): Promise<SoakOutcome> {
  // Every database of the run (the drain's and the soak's) is made on this server (freshDatabase reads it).
  if ((o.postgres ?? 'tuned') === 'tuned') process.env.DATABASE_URL = await tunedPostgres(process.env, o.log);
  const { brokers } = stackEnv();
  const rate = Math.round(o.rate ?? 0.6 * (await measureDrain(brokers, 600_000, o.engineRoot, o.log)));
  const block = cyclicBlock(200_000, GEN);
  const total = o.minutes * 60;
  o.log(`soak: ${o.minutes} min at ${rate} events/s`);
  const db = await freshDatabase();
  // The server's write settings decide much of a long run's cost (checkpoints, full-page writes): reported with it.
  const settings = (
    await serverSettings(db.url, [
      'checkpoint_timeout',
      'fsync',
      'max_wal_size',
      'shared_buffers',
      'synchronous_commit',
      'wal_compression',
      'huge_pages',
    ])
  ).map(([name, value]) => `${name}=${value}`);
  // huge_pages=try says nothing of whether it got them: the kernel's pool does (tools/stack/huge-pages.ts).
  const pages = hugePageCounts();
  if (pages !== null) settings.push(`huge pages held=${hugePagesHeld(pages)} of ${pages.total}`);
  o.log(`postgres: ${settings.join(' ')}`);
  // What the run wrote to the WAL and how many checkpoints it took: the server's whole, so only the soak's on its own cluster.
  const walAtStart = await walPosition(db.pool);
  const t = await soakTopic(brokers, 12);
  const env = engineEnv(t.topic, db.url, { KAFKA_BROKERS: brokers });
  const engines = new Set<EngineProcess>();
  // Each engine's last log lines, written when it exits: what a slow recovery did is read there.
  const logDir = path.join(os.tmpdir(), `${t.topic}-engines`);
  mkdirSync(logDir, { recursive: true });
  let launched = 0;
  // The engine killed and restarted is a static group member, as a production deployment restarted in place would
  // be (a StatefulSet pod): back within the session timeout, it gets its partitions without a rebalance. The
  // second engine joins and leaves as a dynamic member, like one scaled out and in.
  const start = async (role: 'primary' | 'second'): Promise<EngineProcess> => {
    const e = await launchEngine({
      root: o.engineRoot,
      env: role === 'primary' ? { ...env, KAFKA_GROUP_INSTANCE_ID: `${t.topic}-primary` } : env,
    });
    engines.add(e);
    const logFile = path.join(logDir, `${++launched}-${role}.log`);
    void e.exited.then(() => {
      engines.delete(e);
      writeFileSync(logFile, `${e.logs.join('\n')}\n`);
    });
    return e;
  };
  // Ctrl-C or a timeout: end the engines and drop the soak's database and topic before leaving.
  // The producer stops too, and the clean-up gets 15 s: a run left producing went on loading the machine.
  let aborted = false;
  const onSignal = (): void => {
    aborted = true;
    for (const e of engines) e.proc.kill('SIGKILL');
    setTimeout(() => process.exit(130), 15_000);
    void Promise.allSettled([db.drop(), t.drop()]).then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let primary = await start('primary');
  let second: EngineProcess | undefined;
  const samples: SoakSample[] = [];
  const faults: Fault[] = [];
  let cycle = 0;
  /** Events/s the producer kept, once it is done. */
  let reached = 0;
  let index = 0;
  let weeks = weeksAt(0, total);
  const began = Date.now();
  const elapsed = (): number => (Date.now() - began) / 1000;
  const stream = function* (): Generator<LineMessage> {
    while (!aborted && elapsed() < total) {
      yield block.message(cycle, index, weeks);
      if (++index === block.size) {
        index = 0;
        cycle++;
        weeks = weeksAt(elapsed(), total);
      }
    }
  };
  // kcat (C) keeps the rate beside the engine; the JavaScript producer fell to 14-23k events/s of a 37k target.
  const kcat = kcatBinary();
  if (kcat === undefined)
    o.log('soak: kcat not found, producing with the JavaScript client (it may not keep the rate)');
  const produced = (
    kcat === undefined
      ? produceMessages(brokers, t.topic, asSimulated(stream()), { ratePerSec: rate }).then((p) => ({
          sent: p.sent,
          seconds: p.elapsedMs / 1000,
        }))
      : produceWithKcat(kcat, brokers, t.topic, stream(), rate)
  ).then((p) => {
    reached = p.sent / p.seconds;
    return p.sent;
  });
  // Awaited after the faults; until then a failure (the producer ended by Ctrl-C) must not end the process unhandled.
  produced.catch(() => undefined);
  // Lag as Kafka defines it: what the topic holds minus what Postgres has committed.
  const admin = createAdmin(brokers);
  await admin.connect();
  const held = (): Promise<number> => topicMessageCount(brokers, t.topic, admin);
  const previous = new Map<EngineProcess, Buckets>();
  let sampling = false;
  let drained = false;
  const sampler = setInterval(() => {
    if (sampling || drained) return;
    sampling = true;
    void (async () => {
      const [inTopic, committed] = await Promise.all([held(), committedEvents(db.pool, t.topic)]);
      let flush: Buckets | undefined;
      let busyBytes = 0;
      let givenUp = 0;
      for (const e of engines) {
        const text = await scrape(`http://127.0.0.1:${e.port()}`, 900);
        if (text === undefined) continue;
        busyBytes += metricSum(text, 'loyalty_recent_ids_busy_bytes');
        givenUp += metricSum(text, 'loyalty_recent_ids_given_up_total');
        const cur = histogramBuckets(text, 'loyalty_flush_duration_seconds');
        flush = add(flush, increase(previous.get(e), cur));
        previous.set(e, cur);
      }
      const sample = { t: elapsed(), rssMiB: rssMiB(primary.proc.pid), lag: Math.max(0, inTopic - committed) };
      samples.push({ ...sample, flush: flush ?? [] });
      if (samples.length % 30 === 0)
        o.log(
          `soak: ${(sample.t / 60).toFixed(1)} min, ${inTopic} produced (${Math.round(inTopic / sample.t)} events/s), ${committed} committed, lag ${sample.lag}, RSS ${sample.rssMiB.toFixed(0)} MiB, busy users' recent ids ${(busyBytes / 1048576).toFixed(0)} MiB (${givenUp} given up since each engine's start)`,
        );
    })()
      .catch(() => undefined)
      .finally(() => (sampling = false));
  }, 1000);
  // CPU by party each minute: what grows as the ledger does (engine, Postgres, the broker) is what bounds a long run.
  // Sampled every 5 s so a killed engine's CPU up to its last sample counts.
  const dbName = new URL(db.url).pathname.slice(1);
  const cpu = new CpuSampler(dbName);
  const cpuMinutes: CpuMinute[] = [];
  let cpuFrom = { at: elapsed(), totals: cpu.totals(), committed: 0 };
  let cpuTicks = 0;
  const cpuTimer = setInterval(() => {
    if (++cpuTicks % 12 !== 0) return cpu.sample();
    void committedEvents(db.pool, t.topic)
      .then((committed) => {
        const totals = cpu.totals();
        const at = elapsed();
        const seconds = at - cpuFrom.at;
        const used = (p: keyof CpuMinute['cores']): number => cpuSecondsBetween(cpuFrom.totals, totals, p) / seconds;
        const m: CpuMinute = {
          t: at,
          seconds,
          committed: committed - cpuFrom.committed,
          cores: { engine: used('engine'), postgres: used('postgres'), kafka: used('kafka'), other: used('other') },
        };
        cpuMinutes.push(m);
        cpuFrom = { at, totals, committed };
        o.log(
          `soak: cpu minute to ${(at / 60).toFixed(1)}: ${m.committed} committed; cores engine ${m.cores.engine.toFixed(2)}, postgres ${m.cores.postgres.toFixed(2)}, kafka ${m.cores.kafka.toFixed(2)}, other ${m.cores.other.toFixed(2)}`,
        );
      })
      .catch(() => undefined);
  }, 5000);
  let failure: string | undefined;
  let events = 0;
  let lost = 0;
  let wrong = 0;
  let wal = '';
  try {
    for (const f of faultPlan(total)) {
      await sleep(Math.max(0, f.t * 1000 - (Date.now() - began)));
      faults.push({ t: elapsed(), kind: f.kind });
      o.log(`soak: ${f.kind} at ${(elapsed() / 60).toFixed(2)} min`);
      if (f.kind === 'kill') {
        await primary.stop('SIGKILL');
        primary = await start('primary');
      } else if (f.kind === 'join') {
        second = await start('second');
      } else {
        await second?.stop('SIGTERM');
      }
    }
    events = await produced;
    // kcat reports a failed delivery only on stderr; the replay expects exactly what was generated.
    const inTopic = await held();
    if (inTopic !== events) throw new Error(`the topic holds ${inTopic} messages, ${events} were produced`);
    await waitForDrain(db.pool, t.topic, events, 600_000);
    await sleep(2000);
    drained = true;
    const expected = block.expectedAfter(cycle, index);
    const ledger = await ledgerCounts(db.pool, t.topic);
    lost = events - ledger.rows - ledger.deadLetters;
    wrong = (await compareBalances(db.pool, expected)).length;
    wal = await walSince(db.pool, walAtStart, events);
  } catch (e) {
    failure = e instanceof Error ? e.message.split('\n')[0] : String(e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    clearInterval(sampler);
    clearInterval(cpuTimer);
    await admin.disconnect().catch(() => undefined);
    await Promise.all([...engines].map((e) => e.stop('SIGKILL')));
    await db.drop();
    await t.drop();
  }
  const u = total / 6;
  const w2 = windowFigures(samples, u, 2 * u);
  const wLast = windowFigures(samples, total - u, total);
  const nearZero = Math.max(1000, rate);
  const rec = recoveries(samples, faults, nearZero);
  const rssChange = relativeChange(w2.rssMiB, wLast.rssMiB);
  const cpu2 = cpuPerEvent(cpuMinutes, u, 2 * u);
  const cpuLast = cpuPerEvent(cpuMinutes, total - u, total);
  const us = (c: CpuMinute['cores'] | null): string =>
    c === null
      ? 'not sampled (no whole minute inside)'
      : `engine ${c.engine.toFixed(1)}, postgres ${c.postgres.toFixed(1)}, kafka ${c.kafka.toFixed(1)}, other ${c.other.toFixed(1)}`;
  const p99Change = relativeChange(w2.flushP99Ms, wLast.flushP99Ms);
  const checks: [string, boolean][] = [
    // A load the producer could not keep would test less than the verdict claims.
    [
      `load ${Math.round(reached)} events/s reached of ${rate} asked (>= 95 %)${kcat === undefined ? ', JavaScript producer' : ', kcat'}`,
      reached >= 0.95 * rate,
    ],
    [
      `RSS mean ${w2.rssMiB.toFixed(0)} MiB (minutes ${(u / 60).toFixed(1)}-${((2 * u) / 60).toFixed(1)}) -> ${wLast.rssMiB.toFixed(0)} MiB (last ${(u / 60).toFixed(1)} min): ${(rssChange * 100).toFixed(1)} % (<= 10 %)`,
      rssChange <= 0.1,
    ],
    [
      `flush p99 ${w2.flushP99Ms.toFixed(1)} ms -> ${wLast.flushP99Ms.toFixed(1)} ms: ${(p99Change * 100).toFixed(1)} % (<= 10 %)`,
      p99Change <= 0.1,
    ],
    [
      `lag back to <= ${nearZero} events after every fault: ${faults.map((f, i) => `${f.kind}@${(f.t / 60).toFixed(1)}m ${rec[i] === null ? 'never' : `${rec[i]!.toFixed(0)} s`}`).join(', ')}`,
      rec.every((r) => r !== null),
    ],
    [
      `balances: ${events} events, lost ${lost}, wrong ${wrong}${failure ? ` (${failure})` : ''}`,
      failure === undefined && lost === 0 && wrong === 0,
    ],
  ];
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = path.join(ROOT_DIR, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const svg = path.join(dir, `soak-${stamp}.svg`);
  writeFileSync(svg, soakChartSvg(samples, faults, `soak ${o.minutes} min at ${rate} events/s`));
  writeFileSync(
    path.join(dir, `soak-${stamp}.json`),
    JSON.stringify({
      minutes: o.minutes,
      rate,
      reached,
      postgres: settings,
      wal,
      events,
      lost,
      wrong,
      failure,
      checks,
      faults,
      recoveries: rec,
      windows: [w2, wLast],
      cpuPerEvent: [cpu2, cpuLast],
      cpuMinutes,
      samples,
    }),
  );
  const summary = [
    ...checks.map(([text, ok]) => `${ok ? 'pass' : 'FAIL'}  ${text}`),
    `postgres: ${settings.join(' ')}`,
    // Not a check: where the CPU of a committed event went, second sixth against the last (what bounds the load a long run keeps).
    `cpu µs per committed event, minutes ${(u / 60).toFixed(1)}-${((2 * u) / 60).toFixed(1)}: ${us(cpu2)}; last ${(u / 60).toFixed(1)} min: ${us(cpuLast)}`,
    ...(wal === '' ? [] : [`postgres: ${wal}`]),
    `chart: ${path.relative(ROOT_DIR, svg)}`,
    `engine logs: ${logDir}`,
  ];
  return { passed: checks.every(([, ok]) => ok), events, lost, wrong, summary };
}

/** The soak as a line of the chaos table: run by `npm run chaos -- --long` (30 minutes) or `--only soak`. */
export function soakScenarios(
  long: boolean,
  only: string | undefined,
  log: (l: string) => void,
): [string, () => Promise<ChaosRow>][] {
  if (!long && !(only?.split(',') ?? []).includes('soak')) return [];
  return [
    [
      'soak',
      async () => {
        const r = await runSoak({ minutes: 30, log });
        r.summary.forEach((l) => log(`soak: ${l}`));
        return {
          scenario: 'soak: 30 min, kill every 5, rebalance every 10',
          trials: 1,
          events: r.events,
          lost: r.lost,
          wrong: r.wrong,
          result: r.passed ? 'pass' : 'FAIL',
          note: r.summary.filter((l) => l.startsWith('FAIL')).join('; '),
        };
      },
    ],
  ];
}

interface WalPosition {
  lsn: string;
  checkpoints: number;
}

async function walPosition(pool: pg.Pool): Promise<WalPosition> {
  const r = await pool.query<{ lsn: string; checkpoints: string }>(
    'SELECT pg_current_wal_lsn()::text AS lsn, (checkpoints_timed + checkpoints_req)::text AS checkpoints FROM pg_stat_bgwriter',
  );
  return { lsn: r.rows[0]!.lsn, checkpoints: Number(r.rows[0]!.checkpoints) };
}

/** The WAL written and checkpoints taken since `from`, per event too. */
async function walSince(pool: pg.Pool, from: WalPosition, events: number): Promise<string> {
  const r = await pool.query<{ bytes: string; checkpoints: string }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS bytes,
            (checkpoints_timed + checkpoints_req)::text AS checkpoints FROM pg_stat_bgwriter`,
    [from.lsn],
  );
  const bytes = Number(r.rows[0]!.bytes);
  return `WAL ${(bytes / 2 ** 30).toFixed(1)} GiB, ${Math.round(bytes / Math.max(1, events))} bytes an event, ${Number(r.rows[0]!.checkpoints) - from.checkpoints} checkpoints`;
}
