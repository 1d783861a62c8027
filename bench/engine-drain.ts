import { readFileSync } from 'node:fs';
import pg from 'pg';
import { ensureDatabase, withDatabase } from '../tools/stack/postgres-server.js';
import { committedEvents } from '../src/store/offsets.js';
import { now, progress, startEngineChild } from './support.js';

export interface DrainResult {
  seconds: number;
  rate: number;
  firstCommitSeconds: number;
  /** Largest peak RSS of one engine process. */
  peakRssMiB: number;
  /** [seconds since start, events committed] */
  series: [number, number][];
  /** [seconds since start, resident MiB of the largest engine process] */
  rss: [number, number][];
  balances: Map<string, number>;
}

/** Starts a cold engine on a fresh database and waits until Postgres holds every event's offset. */
export async function drainWithEngine(o: {
  label: string;
  brokers: string;
  databaseUrl: string;
  dbName: string;
  topic: string;
  events: number;
  env?: Record<string, string>;
  /** Engine processes in one consumer group (default 1). */
  processes?: number;
  /** Extra node options for the engine(s), e.g. --cpu-prof. */
  nodeArgs?: string[];
}): Promise<DrainResult> {
  await ensureDatabase(o.databaseUrl, o.dbName);
  const dbUrl = withDatabase(o.databaseUrl, o.dbName);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  // Every drain starts right after a checkpoint: one falling inside a run (and the full-page writes after
  // it) made that run slower than its neighbours. Needs a superuser or pg_checkpoint; skipped otherwise.
  await pool.query('CHECKPOINT').catch(() => undefined);
  const p = progress(o.label);
  const started = now();
  const engines = Array.from({ length: o.processes ?? 1 }, () =>
    startEngineChild(
      {
        KAFKA_TOPIC: o.topic,
        KAFKA_GROUP_ID: `${o.dbName}_g`,
        DATABASE_URL: dbUrl,
        KAFKA_BROKERS: o.brokers,
        ...o.env,
      },
      o.nodeArgs,
    ),
  );
  const series: [number, number][] = [];
  const rss: [number, number][] = [];
  let committed = 0;
  let peakRssKb = 0;
  let firstCommitAt = 0;
  try {
    while (committed < o.events) {
      await new Promise((r) => setTimeout(r, 250));
      for (const e of engines) if (e.proc.exitCode !== null) throw new Error(`engine exited with ${e.proc.exitCode}`);
      // Before the engine has migrated the schema the table does not exist yet: count that as 0.
      committed = await committedEvents(pool, o.topic).catch(() => 0);
      const t = (now() - started) / 1000;
      if (committed > 0 && firstCommitAt === 0) firstCommitAt = t;
      series.push([t, committed]);
      peakRssKb = Math.max(peakRssKb, ...engines.map((e) => rssKb(e.proc.pid)));
      rss.push([t, Math.round(Math.max(...engines.map((e) => rssKb(e.proc.pid, 'VmRSS'))) / 1024)]);
      p.update(`${committed}/${o.events} committed, ${t.toFixed(1)} s`);
    }
  } finally {
    for (const e of engines) e.proc.kill('SIGTERM');
    await Promise.all(engines.map((e) => e.exited));
  }
  const seconds = series[series.length - 1]![0];
  p.done(`${o.events} committed in ${seconds.toFixed(2)} s (first commit at ${firstCommitAt.toFixed(2)} s)`);
  const rows = await pool.query<{ user_id: string; points: string }>('SELECT user_id, points FROM balances');
  await pool.end();
  return {
    seconds,
    rate: o.events / seconds,
    firstCommitSeconds: firstCommitAt,
    peakRssMiB: Math.round(peakRssKb / 1024),
    series,
    rss,
    balances: new Map(rows.rows.map((x) => [x.user_id, Number(x.points)])),
  };
}

/** Peak (VmHWM) or current (VmRSS) resident set of a process, in KiB: worker threads included. */
export function rssKb(pid: number | undefined, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): number {
  if (pid === undefined) return 0;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * A 20-rule file for the cost-of-rules comparison: day-of-week, date-range, category and SKU
 * rules (most never match the benchmark's events, but every one is evaluated), plus tiers.
 */
export function twentyRuleYaml(): string {
  const rules: string[] = [];
  const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  days.forEach((d, i) =>
    rules.push(`  - { name: dow-${d}, when: { days_of_week: [${d}] }, multiplier: ${i === 5 || i === 6 ? 2 : 1} }`),
  );
  for (let i = 0; i < 4; i++) {
    const from = `2027-0${i + 1}-01`,
      to = `2027-0${i + 1}-20`;
    rules.push(`  - { name: promo-${i}, when: { date_range: { from: ${from}, to: ${to} } }, multiplier: 3 }`);
  }
  for (let i = 0; i < 5; i++) rules.push(`  - { name: cat-${i}, when: { category: category-${i} }, multiplier: 1.5 }`);
  for (let i = 0; i < 4; i++) rules.push(`  - { name: sku-${i}, when: { sku: SKU-${i} }, multiplier: 2 }`);
  return [
    'version: 1',
    'earn: { points_per_unit: 1, rounding: floor, minimum_spend: 0, cap_per_event: 100000, cap_per_user_per_day: null }',
    'rules:',
    ...rules,
    'tiers:',
    '  - { name: base, min_lifetime_points: 0, multiplier: 1 }',
    '  - { name: silver, min_lifetime_points: 10000000, multiplier: 1.25 }',
    '  - { name: gold, min_lifetime_points: 50000000, multiplier: 1.5 }',
    'allow_negative: false',
    'idempotency_window: 7d',
    'max_amount: 1000000',
    '',
  ].join('\n');
}

/** The seed's rules (config/rules.yaml) with a `lifecycle:` block: the drain's cost of lots (issue #14). */
export function lifecycleRuleYaml(): string {
  return [
    'version: 1',
    'earn: { points_per_unit: 1, base_rounding: floor, rounding: floor }',
    'rules:',
    '  - { name: weekend-double, when: { days_of_week: [sat, sun] }, multiplier: 2 }',
    'tiers:',
    '  - { name: base, min_lifetime_points: 0, multiplier: 1 }',
    'allow_negative: false',
    'lifecycle: { pending: 14d, expires_after: 365d }',
    '',
  ].join('\n');
}
