/**
 * What the ledger's id lookups (a possible repeat, a refunded purchase: store/event-facts.ts) cost on a day's
 * partition that holds history, through the history index as they run since sql/009, and through the event-key
 * index the ledger kept until then (built here over the same rows, and asked in sql/003's form). The lookups read
 * a user's rows on the day asked, so their cost follows how many rows the user has there: measured for ordinary
 * users (a flush's worth of pairs at once) and for users holding 0.1 %, 1 % and 10 % of the day.
 * Wall time of one backend, the median of `--rounds` runs of each statement, on a scratch database of the server
 * at DATABASE_URL (the tuned cluster's, say), dropped at the end:
 *   DATABASE_URL=postgres://postgres@127.0.0.1:55433/postgres npx tsx bench/id-lookup-cost.ts [--history 4000000] [--rounds 15]
 */
import { parseArgs } from 'node:util';
import { factsStatement, type PairLookup } from '../src/store/event-facts.js';
import { DAY_MS } from '../src/store/ledger-partitions.js';
import { adminUrlFromEnv, SCRATCH_DAY0, SQL003_EVENT_KEY_INDEX, withScratchLedger } from './scratch-ledger.js';
import { progress, table } from './support.js';

const { values } = parseArgs({
  options: {
    history: { type: 'string', default: '4000000' },
    rounds: { type: 'string', default: '15' },
  },
});
const adminUrl = adminUrlFromEnv();
const history = Number(values.history);
const rounds = Number(values.rounds);
const USERS = 200_000;
// Row i belongs to a busy user when i % 1000 falls in its share, to user-(i % USERS) otherwise; its id is e-i.
const BUSY: [string, number, number][] = [
  ['busy-10pct', 0, 100],
  ['busy-1pct', 100, 110],
  ['busy-0.1pct', 110, 111],
];
const userOf = (i: number): string =>
  BUSY.find(([, lo, hi]) => i % 1000 >= lo && i % 1000 < hi)?.[0] ?? `user-${i % USERS}`;

// The lookup as sql/003's index served it (store/event-facts.ts before sql/009); $2 holds the pairs as `user/id`.
const beforeText = (s: { text: string }): string => {
  const now =
    /user_id = ANY \(ARRAY\(SELECT DISTINCT unnest\(\$1::text\[\]\)\)\) AND user_id \|\| '\/' \|\| event_id = ANY \(\$2::text\[\]\)/;
  if (!now.test(s.text)) throw new Error('store/event-facts.ts asks differently now: update this bench');
  return s.text.replace(
    now,
    "hashtextextended(user_id || '/' || event_id, 0) = ANY (ARRAY(SELECT hashtextextended(k, 0) FROM unnest($1::text[], $2::text[]) AS x(u, k)))",
  );
};

await withScratchLedger(adminUrl, 'id_lookup', async (c) => {
  const p = progress('history');
  for (let done = 0; done < history; done += 500_000) {
    const n = Math.min(500_000, history - done);
    await c.query(
      `INSERT INTO point_transactions (event_time, kafka_offset, points, balance_after, partition, rules_version_id, event_type, status, user_id, event_id, amount)
       SELECT $1::timestamptz + (i % 86400000) * interval '1 millisecond', i, 10, 100, 1, 1, 'purchase', 'applied',
              CASE WHEN i % 1000 < 100 THEN 'busy-10pct' WHEN i % 1000 < 110 THEN 'busy-1pct' WHEN i % 1000 < 111 THEN 'busy-0.1pct'
                   ELSE 'user-' || (i % $4) END,
              'e-' || i, 12.50
       FROM generate_series($2::bigint, $3::bigint) AS i`,
      [new Date(SCRATCH_DAY0).toISOString(), done, done + n - 1, USERS],
    );
    p.update(`${done + n} of ${history} rows`);
  }
  await c.query('VACUUM ANALYZE point_transactions');
  p.done(`${history} rows in one day's partition`);

  const at = SCRATCH_DAY0 + 43_200_000;
  const day = Math.floor(SCRATCH_DAY0 / DAY_MS);
  const pairs = (users: string[], ids: string[]): PairLookup => ({
    users,
    ids,
    atMs: users.map(() => at),
    windowMs: 7 * DAY_MS,
  });
  // 400 ordinary users, half asking for an id they hold (a repeat), half for one nobody holds.
  const ordinary: string[] = [];
  const ordinaryIds: string[] = [];
  for (let k = 0; k < 400; k++) {
    let i = 1000 + Math.floor(Math.random() * (history - 2000));
    while (userOf(i).startsWith('busy')) i++;
    ordinary.push(userOf(i));
    ordinaryIds.push(k % 2 === 0 ? `e-${i}` : `missing-${k}`);
  }
  const cases: [string, PairLookup][] = [
    [`400 ordinary users (${Math.round(history / USERS)} rows each on the day)`, pairs(ordinary, ordinaryIds)],
    ...BUSY.map(([user, lo, hi]): [string, PairLookup] => [
      `1 user with ${(((hi - lo) / 1000) * 100).toFixed(1)} % of the day (${Math.round((history * (hi - lo)) / 1000)} rows)`,
      pairs([user], [`e-${lo + 1000 * 7}`]),
    ]),
  ];
  const time = async (text: string, v: unknown[]): Promise<{ ms: number; rows: number }> => {
    const each: number[] = [];
    let rows = 0;
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      rows = (await c.query(text, v)).rowCount ?? 0;
      each.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    each.sort((a, b) => a - b);
    return { ms: each[Math.floor(each.length / 2)]!, rows };
  };
  const results: Record<string, string | number>[] = [];
  const after: { ms: number; rows: number }[] = [];
  for (const [, l] of cases) {
    const s = factsStatement(l, [day, day]);
    after.push(await time(s.text, s.values));
  }
  const k = progress('event-key index');
  k.update('building (sql/003) over the history');
  await c.query(SQL003_EVENT_KEY_INDEX);
  await c.query('ANALYZE point_transactions');
  k.done('built');
  for (const [i, [label, l]] of cases.entries()) {
    const s = factsStatement(l, [day, day]);
    const before = await time(beforeText(s), s.values);
    results.push({
      lookup: label,
      'event-key index (until sql/009), ms': before.ms.toFixed(2),
      'history index (since), ms': after[i]!.ms.toFixed(2),
      'rows found (before / since)': `${before.rows} / ${after[i]!.rows}`,
    });
  }
  console.log(`id lookups on a day's partition of ${history} rows, median of ${rounds} runs each:`);
  console.log(table(results));
});
