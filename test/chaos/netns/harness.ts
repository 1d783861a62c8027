import type { ChaosRow } from '../chaos-row.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { committedEvents } from '../../../src/store/offsets.js';
import type { GeneratorOptions } from '../../../tools/simulator/generator.js';
import { engineEnv, type EngineProcess } from '../../integration/support/engine-process.js';
import { launchEngine } from './engine-launch.js';
import { compareBalances, ledgerCounts, waitForDrain } from '../../integration/support/scenario.js';
import { freshDatabase, freshTopic, stackEnv, waitFor } from '../../integration/support/stack.js';
import { namespacesUnavailable } from './commands.js';
import { metricSum, scrape } from './exposition.js';
import type { Series } from './freshness.js';
import { startNamespacedEngine, type NamespacedEngine } from './namespaced-engine.js';
import { cleanLeftovers, createHost, type NetworkHost } from './network-host.js';
import { startSteadyLoad, type SteadyLoad } from './steady-load.js';

export interface NetScenario {
  rate: number;
  seconds: number;
  /** Test hosts (namespaces) to create. */
  hosts: number;
  /** Engine settings for every engine of the scenario (then each start's own). */
  env?: Record<string, string>;
}

export interface NetContext {
  db: Awaited<ReturnType<typeof freshDatabase>>;
  topic: string;
  hosts: NetworkHost[];
  /** Starts the steady load (each scenario starts its engines first); once. */
  beginLoad: () => SteadyLoad;
  /** [time, events committed in Postgres], sampled every 500 ms while the scenario runs. */
  committedSeries: Series;
  startIn: (host: NetworkHost, env?: Record<string, string>) => Promise<NamespacedEngine>;
  startRoot: (env?: Record<string, string>) => Promise<EngineProcess>;
  committed: () => Promise<number>;
}

const log = (l: string): void => {
  process.stderr.write(`[chaos] ${l}\n`);
};
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const GEN: Omit<GeneratorOptions, 'seed'> = {
  users: 5000,
  skew: 1.0,
  redeemRatio: 0.3,
  refundRatio: 0.05,
  duplicateRatio: 0.02,
  badRatio: 0.002,
};

/** Engine metric summed from its /metrics (root engines on 127.0.0.1, namespaced ones on their control link). */
export async function engineMetric(e: EngineProcess, name: string): Promise<number | undefined> {
  const base = 'baseUrl' in e ? (e as NamespacedEngine).baseUrl() : `http://127.0.0.1:${e.port()}`;
  const text = await scrape(base);
  return text === undefined ? undefined : metricSum(text, name);
}

/** Waits until `e` owns `n` partitions (per its /metrics); false on timeout. */
export async function waitForPartitions(e: EngineProcess, n: number, timeoutMs: number): Promise<boolean> {
  return waitFor(
    `${n} partitions`,
    async () => (await engineMetric(e, 'loyalty_assigned_partitions')) === n || undefined,
    timeoutMs,
    250,
  ).then(
    () => true,
    () => false,
  );
}

/** Fenced flushes: every one is logged with status "fenced" beside the loyalty_flush_conflicts_total increment, so killed engines count too. */
const fencedIn = (e: EngineProcess): number => e.logs.filter((l) => l.includes('"status":"fenced"')).length;

/** A failed scenario's engine logs, for reading afterwards. */
function keepLogs(name: string, engines: EngineProcess[]): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lnx-chaos-'));
  engines.forEach((e, i) =>
    writeFileSync(path.join(dir, `engine-${i}${'host' in e ? `-${String(e.host)}` : '-root'}.log`), e.logs.join('\n')),
  );
  log(`${name}: engine logs kept in ${dir}`);
}

/**
 * Runs one network scenario: fresh database and topic, test hosts, a steady produced load, the
 * fault (`act`), then drain and compare every balance with the independent replay.
 */
export async function runNetworkScenario(
  name: string,
  o: NetScenario,
  act: (c: NetContext) => Promise<string>,
): Promise<ChaosRow> {
  const row: ChaosRow = { scenario: name, trials: 1, events: 0, lost: 0, wrong: 0, result: 'pass', note: '' };
  const why = namespacesUnavailable();
  if (why !== null) {
    log(`${name}: skipped: ${why}`);
    return { ...row, trials: 0, result: 'skipped', note: `skipped: ${why}` };
  }
  cleanLeftovers();
  const { brokers, databaseUrl } = stackEnv();
  const ports = {
    kafka: Number(brokers.split(',')[0]!.split(':').pop()),
    postgres: Number(new URL(databaseUrl).port || 5432),
  };
  const db = await freshDatabase();
  const { topic } = await freshTopic(6);
  const engines: EngineProcess[] = [];
  const hosts: NetworkHost[] = [];
  let sampler: NodeJS.Timeout | undefined;
  let load: SteadyLoad | undefined;
  try {
    for (let i = 0; i < o.hosts; i++) hosts.push(await createHost(i, ports));
    const base = engineEnv(topic, db.url, {
      KAFKA_BROKERS: brokers,
      FLUSH_MAX_EVENTS: '2000',
      MAX_BATCH_EVENTS: '500',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      ...o.env,
    });
    const committedSeries: Series = [];
    sampler = setInterval(() => {
      committedEvents(db.pool, topic).then(
        (n) => committedSeries.push([Date.now(), n]),
        () => undefined,
      );
    }, 500);
    const c: NetContext = {
      db,
      topic,
      hosts,
      beginLoad: () => (load ??= startSteadyLoad(brokers, topic, o.rate, o.seconds, { ...GEN, seed: 4242 })),
      committedSeries,
      startIn: async (host, env = {}) => {
        const e = await startNamespacedEngine(host, { ...base, ...env });
        engines.push(e);
        return e;
      },
      startRoot: async (env = {}) => {
        const e = await launchEngine({ env: { ...base, ...env } });
        engines.push(e);
        return e;
      },
      committed: () => committedEvents(db.pool, topic),
    };
    const note = await act(c);
    load = c.beginLoad();
    const total = await load.done;
    if (!engines.some((e) => e.proc.exitCode === null && e.proc.signalCode === null)) await c.startRoot();
    await waitForDrain(db.pool, topic, total, 300_000);
    const ledger = await ledgerCounts(db.pool, topic);
    row.events = total;
    row.lost = total - ledger.rows - ledger.deadLetters;
    row.wrong = (await compareBalances(db.pool, load.expected)).length;
    row.note = `fenced flushes ${engines.reduce((a, e) => a + fencedIn(e), 0)}; ${note}`;
    if (row.lost !== 0 || row.wrong !== 0) row.result = 'FAIL';
  } catch (e) {
    row.result = 'FAIL';
    row.note = `${e instanceof Error ? e.message.split('\n')[0]!.slice(0, 200) : String(e)} (fenced flushes ${engines.reduce((a, x) => a + fencedIn(x), 0)})`;
  } finally {
    if (row.result === 'FAIL') keepLogs(name, engines);
    if (sampler) clearInterval(sampler);
    load?.stop();
    await load?.done.catch(() => undefined);
    await Promise.all(engines.map((e) => e.stop('SIGKILL')));
    for (const h of hosts) await h.destroy();
    await db.drop();
  }
  log(`${name}: ${row.result} (${row.note})`);
  return row;
}
