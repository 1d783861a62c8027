import { parseArgs } from 'node:util';
import { applyStackEnv } from '../tools/stack/env-file.js';
import { dropDatabase } from '../tools/stack/postgres-server.js';
import { stackUp } from '../tools/stack/stack.js';
import { keptDrainBacklog } from './drain-backlog.js';
import { drainWithEngine } from './engine-drain.js';
import { drainWithHistory } from './history.js';
import { formatLedgerSize, ledgerSizeOf } from './ledger-size.js';
import { buildEngine, table } from './support.js';

/**
 * The `history` scenario on its own (`npm run bench` runs it too): a kept backlog drained into an
 * empty database, into one whose ledger already holds `--rows` older rows of the same users, and
 * into an empty one again, in that order, in one run:
 *   npx tsx bench/history-drain.ts --events 2000000 --rows 50000000
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      users: { type: 'string' },
      rows: { type: 'string' },
      keep: { type: 'boolean' },
    },
  });
  const events = Number(values.events ?? 2_000_000);
  const users = Number(values.users ?? 100_000);
  const rows = Number(values.rows ?? 50_000_000);
  applyStackEnv();
  const ends = await stackUp((l) => process.stderr.write(`[stack] ${l}\n`));
  buildEngine();
  // bench:drain's kept backlog, so the two share it.
  const backlog = await keptDrainBacklog(ends.kafkaBrokers, events, users);
  const topic = backlog.topic;
  const expected = backlog.expected();

  const stamp = Date.now().toString(36);
  const results: Record<string, string | number>[] = [];
  // Each database is dropped once measured, so autovacuum on it does not compete with the next drain.
  const drop = async (db: string): Promise<void> => {
    if (!values.keep) await dropDatabase(ends.databaseUrl, db);
  };
  const empty = async (label: string, db: string): Promise<number> => {
    const d = await drainWithEngine({
      label,
      brokers: ends.kafkaBrokers,
      databaseUrl: ends.databaseUrl,
      dbName: db,
      topic,
      events,
    });
    results.push({
      drain: label,
      'events/s': Math.round(d.rate),
      seconds: d.seconds.toFixed(1),
      mismatches: expected.differences(d.balances).length,
      ledger: formatLedgerSize(await ledgerSizeOf(ends.databaseUrl, db)),
    });
    await drop(db);
    return d.rate;
  };
  const empty1 = await empty('empty database', `bench_hist_empty1_${stamp}`);
  const histDb = `bench_hist_${stamp}`;
  const h = await drainWithHistory({
    brokers: ends.kafkaBrokers,
    adminUrl: ends.databaseUrl,
    dbName: histDb,
    topic,
    events,
    users,
    rows,
    expected,
    log: (l) => void process.stderr.write(`\r[bench] ${l}`.padEnd(100)),
  });
  results.push({
    drain: `database with ${rows} older ledger rows (made in ${h.fillSeconds.toFixed(0)} s)`,
    'events/s': Math.round(h.rate),
    seconds: h.seconds.toFixed(1),
    mismatches: h.mismatches,
    ledger: formatLedgerSize(await ledgerSizeOf(ends.databaseUrl, histDb)),
  });
  await drop(histDb);
  const empty2 = await empty('empty database again', `bench_hist_empty2_${stamp}`);
  console.log(
    `\n${events} events, ${users} users, 12 partitions; history: ${rows} rows over 60 days before the backlog's first day`,
  );
  console.log(table(results));
  console.log(
    `\nwith history / empty (mean of the two empty drains): ${(h.rate / ((empty1 + empty2) / 2)).toFixed(2)}x`,
  );
}

main().catch((e: unknown) => {
  console.error(`[bench] error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
