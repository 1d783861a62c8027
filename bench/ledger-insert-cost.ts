/**
 * What one ledger row costs Postgres to take in, by what the table already holds, by the indexes it keeps and by
 * the size of each COPY: the engine's flushes are a few hundred rows each in a steady stream and tens of
 * thousands while draining a backlog. The rows are the engine's text rows (sql/003's columns), made before the
 * clock starts; each COPY is its own transaction, as a flush is. Wall time of one backend per row, on a scratch
 * database of the server at DATABASE_URL (the tuned cluster's, say), dropped at the end.
 *   DATABASE_URL=postgres://postgres@127.0.0.1:55433/postgres npx tsx bench/ledger-insert-cost.ts \
 *     [--history 4000000] [--rows 200000] [--sizes 400,40000] [--rounds 2]
 * It says whether the server's shared memory is on huge pages when it runs on this machine (docs/performance.md).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { LEDGER_COLUMNS } from '../src/store/flush.js';
import { postmasterHugePagesKb } from '../tools/stack/huge-pages.js';
import { adminUrlFromEnv, SCRATCH_DAY0, SQL003_EVENT_KEY_INDEX, withScratchLedger } from './scratch-ledger.js';
import { progress } from './support.js';

const { values } = parseArgs({
  options: {
    history: { type: 'string', default: '4000000' },
    rows: { type: 'string', default: '200000' },
    sizes: { type: 'string', default: '400,40000' },
    rounds: { type: 'string', default: '2' },
  },
});
const adminUrl = adminUrlFromEnv();
const history = Number(values.history);
const perRun = Number(values.rows);
const sizes = values.sizes.split(',').map(Number);
const USERS = 200_000;

let offset = 0;
/** `n` ledger rows of one day, users at random (as the engine's flushes insert them: the indexes lead with the user or a hash). */
function rows(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const t = new Date(SCRATCH_DAY0 + Math.floor(Math.random() * 86_400_000)).toISOString();
    offset++;
    s += `${t}\t${offset}\t10\t100\t1\t1\tpurchase\tapplied\tuser-${Math.floor(Math.random() * USERS)}\tev-${offset}\t12.50\t\\N\t\\N\n`;
  }
  return s;
}

/** Whether the server's postmaster maps memory on 2 MB pages: only readable when it runs on this machine as a user we can read. */
async function hugePages(c: pg.PoolClient): Promise<string> {
  const dir = (await c.query<{ d: string }>('SELECT current_setting($1) AS d', ['data_directory'])).rows[0]!.d;
  const kb = postmasterHugePagesKb(dir);
  return kb === null ? 'unknown (not readable from here)' : kb > 0 ? 'yes' : 'no';
}

await withScratchLedger(adminUrl, 'ledger_cost', async (c) => {
  // The event-key index the ledger had until sql/009, grown row by row with the history as it was then.
  await c.query(SQL003_EVENT_KEY_INDEX);
  const copy = (text: string): Promise<void> =>
    pipeline(Readable.from([text]), c.query(copyFrom(`COPY point_transactions (${LEDGER_COLUMNS}) FROM STDIN`)));
  const p = progress('history');
  for (let done = 0; done < history; done += 200_000) {
    await copy(rows(Math.min(200_000, history - done)));
    p.update(`${Math.min(history, done + 200_000)} of ${history} rows`);
  }
  await c.query('VACUUM ANALYZE point_transactions');
  p.done(`${history} rows in one day's partition`);
  const settings = await c.query<{ s: string }>(
    "SELECT current_setting('shared_buffers') || ' shared buffers, huge_pages=' || current_setting('huge_pages') AS s",
  );
  console.log(`server: ${settings.rows[0]!.s}; shared memory on huge pages: ${await hugePages(c)}`);
  // Indexes dropped one after the other, so each step's difference is what that index costs a row: first with
  // the event-key index the ledger had until sql/009 (grown with the history, above), then as it is, then none.
  const steps: [string, string | null][] = [
    ['history + event key (sql/003)', null],
    ['history index only (since sql/009)', 'DROP INDEX point_transactions_event_key'],
    ['no index', 'DROP INDEX point_transactions_history'],
  ];
  for (const [label, change] of steps) {
    if (change !== null) await c.query(change);
    for (const size of sizes) {
      const each: number[] = [];
      for (let r = 0; r < Number(values.rounds); r++) {
        const texts = Array.from({ length: Math.ceil(perRun / size) }, () => rows(size));
        const t0 = process.hrtime.bigint();
        for (const t of texts) {
          await c.query('BEGIN');
          await copy(t);
          await c.query('COMMIT');
        }
        each.push(Number(process.hrtime.bigint() - t0) / 1000 / (texts.length * size));
      }
      console.log(`${label}, ${size} rows a COPY: ${each.map((x) => x.toFixed(2)).join(', ')} us a row`);
    }
  }
});
