import type { ChaosRow } from './chaos-row.js';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createRandom } from '../../tools/simulator/prng.js';
import { generateMessages, type GeneratorOptions, type SimulatedMessage } from '../../tools/simulator/generator.js';
import { ExpectedBalances } from '../../tools/simulator/expected-balances.js';
import { produceMessages } from '../../tools/simulator/produce.js';
import { brokerAddress, brokerSettings, brokerStatus, startBroker } from '../../tools/stack/kafka-broker.js';
import { stackUp } from '../../tools/stack/stack.js';
import { committedEvents } from '../../src/store/offsets.js';
import { isAlive } from '../../tools/stack/process-utils.js';
import { engineEnv, type EngineProcess } from '../integration/support/engine-process.js';
import { engineRoot, launchEngine, setEngineRoot } from './netns/engine-launch.js';
import { compareBalances, ledgerCounts, waitForDrain } from '../integration/support/scenario.js';
import { freshDatabase, freshTopic, waitFor } from '../integration/support/stack.js';
import { hostileMessages } from './hostile-messages.js';
import { flushInProgress } from './flush-probe.js';
import { sigkillLifecycle } from './sigkill-lifecycle.js';
import { table } from '../../bench/support.js';
import { networkScenarios } from './netns/scenarios.js';
import { soakScenarios } from './soak/run-soak.js';

/**
 * `npm run chaos`: faults against the real stack, each scenario ending with every balance
 * compared to an independent single-threaded replay. lost = events with neither a ledger row
 * nor a dead letter; wrong = balances that differ from the replay. Both must be 0.
 *
 * Options: `--long` (release form; it includes the 30-minute soak), `--only a,b` (scenario keys),
 * `--skip a,b` (e.g. `--skip soak`), `--engine-root DIR` (run that checkout's engine, e.g. a
 * `git archive` of a commit with a node_modules link, instead of this one's src/).
 */
interface Harness {
  brokers: string;
  db: Awaited<ReturnType<typeof freshDatabase>>;
  topic: string;
  events: number;
  engines: EngineProcess[];
  start: () => Promise<EngineProcess>;
  committed: () => Promise<number>;
  random: () => number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (l: string): void => {
  process.stderr.write(`[chaos] ${l}\n`);
};

async function runScenario(
  name: string,
  trials: number,
  events: number,
  act: (h: Harness) => Promise<string | void>,
  extra: (seed: number) => SimulatedMessage[] = () => [],
): Promise<ChaosRow> {
  const row: ChaosRow = { scenario: name, trials, events: 0, lost: 0, wrong: 0, result: 'pass', note: '' };
  for (let t = 0; t < trials; t++) {
    const db = await freshDatabase();
    const { topic } = await freshTopic(6);
    const brokers = brokerAddressFromEnv();
    const gen: GeneratorOptions = {
      users: 2000,
      skew: 1.0,
      redeemRatio: 0.3,
      refundRatio: 0.05,
      duplicateRatio: 0.02,
      badRatio: 0.002,
      seed: 1000 + t,
    };
    const expected = new ExpectedBalances();
    const hostile = extra(t);
    const stream = function* (): Generator<SimulatedMessage> {
      let i = 0;
      for (const m of generateMessages(events, gen)) {
        // Spread the extra messages through the stream.
        if (hostile.length > 0 && i++ % Math.max(1, Math.floor(events / hostile.length)) === 0) {
          const h = hostile.shift()!;
          expected.add(h);
          yield h;
        }
        expected.add(m);
        yield m;
      }
      for (const h of hostile.splice(0)) {
        expected.add(h);
        yield h;
      }
    };
    const total = (await produceMessages(brokers, topic, stream())).sent;
    const engines: EngineProcess[] = [];
    const env = engineEnv(topic, db.url, {
      KAFKA_BROKERS: brokers,
      FLUSH_MAX_EVENTS: '2000',
      MAX_BATCH_EVENTS: '500',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
    });
    const h: Harness = {
      brokers,
      db,
      topic,
      events: total,
      engines,
      start: async () => {
        const e = await launchEngine({ env });
        engines.push(e);
        return e;
      },
      committed: () => committedEvents(db.pool, topic),
      random: createRandom(7 + t),
    };
    try {
      const note = await act(h);
      if (note) row.note = note;
      if (!engines.some((e) => e.proc.exitCode === null && e.proc.signalCode === null)) await h.start();
      await waitForDrain(db.pool, topic, total, 240_000);
      const ledger = await ledgerCounts(db.pool, topic);
      row.lost += total - ledger.rows - ledger.deadLetters;
      row.wrong += (await compareBalances(db.pool, expected)).length;
    } catch (e) {
      row.result = 'FAIL';
      row.note = e instanceof Error ? e.message.slice(0, 120) : String(e);
    } finally {
      await Promise.all(engines.map((e) => e.stop('SIGKILL')));
      await db.drop();
    }
    row.events += total;
    log(`${name}: trial ${t + 1}/${trials} done`);
  }
  if (row.lost !== 0 || row.wrong !== 0) row.result = 'FAIL';
  return row;
}

let recordedBrokers = '';
const brokerAddressFromEnv = (): string => recordedBrokers;

/** Waits until at least `n` more events are committed than now. */
async function progressBy(h: Harness, n: number): Promise<void> {
  const from = await h.committed();
  await waitFor(
    'progress',
    async () => (await h.committed()) >= Math.min(h.events, from + n) || undefined,
    120_000,
    50,
  );
}

let killsDuringFlush = 0;

/** Makes the test's database refuse writes for a while, then accept them again. */
async function readOnlyFor(h: Harness, ms: number): Promise<void> {
  const name = new URL(h.db.url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: h.db.url });
  await admin.connect();
  const kick = (): Promise<unknown> =>
    admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'loyalty-engine'`,
      [name],
    );
  await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} SET default_transaction_read_only = on`);
  await kick(); // pooled sessions reconnect and pick the setting up
  await sleep(ms);
  await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} RESET default_transaction_read_only`);
  await kick();
  await admin.end();
}

function localBrokerPid(): number | null {
  const r = spawnSync('pgrep', ['-f', `kafka.Kafka .*${brokerSettings().dir}`], { encoding: 'utf8' });
  const pid = Number(r.stdout.trim().split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function restartMachinePostgres(): boolean {
  const clusters = spawnSync('pg_lsclusters', ['-h'], { encoding: 'utf8' });
  const line = clusters.stdout?.split('\n').find((l) => l.includes(' 5432 '));
  if (!line) return false;
  const [version, name] = line.trim().split(/\s+/);
  return (
    spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version!, name!, 'restart'], { stdio: 'ignore' })
      .status === 0
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      long: { type: 'boolean' },
      only: { type: 'string' },
      skip: { type: 'string' },
      'engine-root': { type: 'string' },
    },
  });
  const long = values.long === true;
  if (values['engine-root'] !== undefined) setEngineRoot(values['engine-root']);
  const skip = values.skip?.split(',') ?? [];
  const ends = await stackUp((l) => log(l));
  recordedBrokers = ends.kafkaBrokers;
  const events = long ? 60_000 : 20_000;
  const scenarios: [string, () => Promise<ChaosRow>][] = [
    [
      'sigkill',
      () =>
        runScenario('SIGKILL at random moments', long ? 20 : 3, events, async (h) => {
          // First kill at a random point of progress; second one while Postgres shows a flush transaction open.
          let inFlush = 0;
          for (let k = 0; k < 2; k++) {
            const e = await h.start();
            await progressBy(h, 500 + Math.floor(h.random() * 3000));
            if (k === 1 && (await flushInProgress(h.db.pool, h.db.url))) inFlush++;
            await e.stop('SIGKILL');
          }
          killsDuringFlush += inFlush;
          return `${killsDuringFlush} kills inside a flush transaction so far`;
        }),
    ],
    [
      'sigkill-lifecycle',
      () => sigkillLifecycle({ trials: long ? 3 : 1, events: 30_000, brokers: brokerAddressFromEnv() }),
    ],
    [
      'pg-backends',
      () =>
        runScenario('Postgres backends terminated', 1, events, async (h) => {
          await h.start();
          const name = new URL(h.db.url).pathname.slice(1);
          for (let i = 0; i < 25; i++) {
            await sleep(300);
            await h.db.pool.query(
              `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'loyalty-engine' AND state <> 'idle'`,
              [name],
            );
          }
        }),
    ],
    [
      'pg-readonly',
      () =>
        runScenario('database read-only for 10 s', 1, events, async (h) => {
          await h.start();
          await progressBy(h, 2000);
          await readOnlyFor(h, 10_000);
        }),
    ],
    [
      'pg-restart',
      () =>
        runScenario('Postgres restarted mid-stream', 1, events, async (h) => {
          if (!new URL(h.db.url).port.endsWith('5432')) return 'skipped: not the machine cluster';
          await h.start();
          await progressBy(h, 2000);
          if (!restartMachinePostgres()) return 'could not restart the cluster (pg_ctlcluster)';
        }),
    ],
    [
      'broker-restart',
      () =>
        runScenario('Kafka broker restarted mid-stream', 1, events, async (h) => {
          const pid = localBrokerPid();
          if (pid === null) return "skipped: the broker is not this checkout's";
          await h.start();
          await progressBy(h, 2000);
          process.kill(pid, 'SIGTERM');
          await waitFor('broker down', async () => !isAlive(pid) || undefined, 60_000);
          await startBroker(brokerSettings(), log);
        }),
    ],
    [
      'broker-stop',
      () =>
        runScenario('Kafka broker SIGSTOPped past the session timeout', 1, events, async (h) => {
          const pid = localBrokerPid();
          if (pid === null) return "skipped: the broker is not this checkout's";
          const e = await h.start();
          await progressBy(h, 2000);
          process.kill(pid, 'SIGSTOP');
          await sleep(6_000);
          const ready = await fetch(`http://127.0.0.1:${e.port()}/readyz`).then(
            (r) => r.status,
            () => 0,
          );
          await sleep(9_000);
          process.kill(pid, 'SIGCONT');
          if (ready !== 503) throw new Error(`/readyz answered ${ready} while the broker was stopped (expected 503)`);
          await waitFor(
            'broker answers',
            async () => (await brokerStatus(brokerSettings())).answers || undefined,
            60_000,
          );
        }),
    ],
    [
      'rebalance-storm',
      () =>
        runScenario('rebalance storm', 1, events * 2, async (h) => {
          await h.start();
          for (let i = 0; i < (long ? 10 : 4); i++) {
            const joiner = await h.start();
            await sleep(1500 + h.random() * 2000);
            await joiner.stop(h.random() < 0.5 ? 'SIGTERM' : 'SIGKILL');
          }
        }),
    ],
    [
      'poison',
      () =>
        runScenario(
          'poison and hostile messages',
          1,
          events,
          async (h) => {
            await h.start();
            await waitForDrain(h.db.pool, h.topic, h.events, 240_000);
            // Every dead letter, the 1 MB one included, must reach the dead-letter topic too.
            await waitFor(
              'dead letters published',
              async () => {
                const r = await h.db.pool.query<{ n: string }>(
                  'SELECT count(*) AS n FROM dead_letters WHERE published_at IS NULL',
                );
                return Number(r.rows[0]!.n) === 0 || undefined;
              },
              60_000,
            );
          },
          hostileMessages,
        ),
    ],
  ];
  scenarios.push(...networkScenarios(long, values.only), ...soakScenarios(long, values.only, log));
  const rows: ChaosRow[] = [];
  for (const [key, run] of scenarios) {
    if (values.only && !values.only.split(',').includes(key)) continue;
    if (skip.includes(key)) {
      log(`scenario ${key}: left out (--skip)`);
      continue;
    }
    log(`scenario ${key} ...`);
    const row = await run();
    if (row.note.startsWith('skipped')) row.result = 'skipped';
    rows.push(row);
  }
  console.log(
    `\nchaos (${long ? 'long' : 'short'} form${skip.length > 0 ? `, without ${skip.join(', ')}` : ''}) of the engine in ${engineRoot()} against Kafka at ${brokerAddress(brokerSettings())} and Postgres:`,
  );
  console.log(
    table(
      rows.map((r) => ({
        scenario: r.scenario,
        trials: r.trials,
        events: r.events,
        lost: r.lost,
        'wrong balances': r.wrong,
        result: r.result,
        note: r.note,
      })),
    ),
  );
  const failed = rows.filter((r) => r.result === 'FAIL').length;
  const skipped = rows.filter((r) => r.result === 'skipped').length;
  console.log(`\nchaos: ${rows.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped`);
  if (failed > 0) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    console.error(`[chaos] error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
