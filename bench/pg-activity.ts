import { appendFileSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';

/**
 * A sampling profile of Postgres by statement: where its active time goes during a run.
 *   npx tsx bench/pg-activity.ts --seconds 600 --out /tmp/pg.tsv   (beside a bench, e.g. history-drain.ts)
 *   npx tsx bench/pg-activity.ts --report /tmp/pg.tsv [--engine-only]   (only the engine's statements, not a fill's)
 * Every 50 ms it records each active client backend's database, statement start and wait event (`cpu` when
 * none); the report gives, per database, each statement kind's share of the samples. Uses DATABASE_URL
 * (default the local server's `postgres` database).
 */
const KINDS: [string, string][] = [
  ['duplicate lookup', '/* duplicate ids */'],
  ['refunded-purchase lookup', '/* refunded purchases */'],
  ['recent-purchase lookup', '/* recent purchases */'],
  ['refund outside its window', 'SELECT DISTINCT user_id, event_id'],
  ['ledger COPY', 'COPY point_transactions'],
  ['staging COPY', 'COPY staging_deltas'],
  ['balance merge', 'INSERT INTO balances AS'],
  ['user load', 'SELECT user_id, points'],
  ['offset fence', 'UPDATE consumer_offsets'],
  ['dead-letter COPY', 'COPY dead_letters'],
  ['commit', 'COMMIT'],
];
const kindOf = (q: string): string =>
  KINDS.find(([, p]) => (p.startsWith('/*') ? q.includes(p) : q.trim().startsWith(p)))?.[0] ?? q.trim().slice(0, 40);

async function sample(seconds: number, out: string): Promise<void> {
  const c = new pg.Client({
    connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  });
  await c.connect();
  const stop = Date.now() + seconds * 1000;
  let lines: string[] = [];
  let written = Date.now();
  while (Date.now() < stop) {
    const r = await c.query<{ datname: string; q: string; w: string | null }>(
      `SELECT datname, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) || coalesce(substring(query from '/\\* [a-z ]+ \\*/$'), '') AS q, wait_event_type || ':' || wait_event AS w
       FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    );
    const t = Date.now();
    for (const row of r.rows) lines.push(`${t}\t${row.datname}\t${row.q}\t${row.w ?? 'cpu'}\n`);
    // Written every second, so that a run cut short still leaves its samples.
    if (t - written > 1000) {
      appendFileSync(out, lines.join(''));
      lines = [];
      written = t;
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  appendFileSync(out, lines.join(''));
  await c.end();
}

function report(file: string, engineOnly: boolean): void {
  const byDb = new Map<string, Map<string, number>>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [, db, q] = line.split('\t');
    if (db === undefined || q === undefined) continue;
    const m = byDb.get(db) ?? new Map<string, number>();
    const k = kindOf(q);
    if (engineOnly && !KINDS.some(([name]) => name === k)) continue;
    m.set(k, (m.get(k) ?? 0) + 1);
    byDb.set(db, m);
  }
  for (const [db, m] of byDb) {
    const total = [...m.values()].reduce((a, b) => a + b, 0);
    const top = [...m].sort((a, b) => b[1] - a[1]).slice(0, 8);
    console.log(
      `${db}: ${total} samples; ${top.map(([k, n]) => `${k} ${((100 * n) / total).toFixed(0)} %`).join(', ')}`,
    );
  }
}

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    out: { type: 'string' },
    report: { type: 'string' },
    'engine-only': { type: 'boolean' },
  },
});
if (values.report !== undefined) report(values.report, values['engine-only'] === true);
else await sample(Number(values.seconds ?? 600), values.out ?? 'pg-activity.tsv');
