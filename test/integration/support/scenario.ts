import type pg from 'pg';
import { committedEvents } from '../../../src/store/offsets.js';
import { ExpectedBalances, type Mismatch } from '../../../tools/simulator/expected-balances.js';
import { generateMessages, type GeneratorOptions } from '../../../tools/simulator/generator.js';
import { produceMessages } from '../../../tools/simulator/produce.js';
import { stackEnv, waitFor } from './stack.js';

/** Produces a deterministic stream and returns the independent replay's expected balances. */
export async function produceScenario(topic: string, count: number, o: GeneratorOptions): Promise<ExpectedBalances> {
  const expected = new ExpectedBalances();
  const stream = function* () {
    for (const m of generateMessages(count, o)) {
      expected.add(m);
      yield m;
    }
  };
  await produceMessages(stackEnv().brokers, topic, stream());
  return expected;
}

/** Waits until Postgres' stored offsets cover every produced message (all partitions drained). */
export async function waitForDrain(pool: pg.Pool, topic: string, total: number, timeoutMs: number): Promise<void> {
  await waitFor(
    `all ${total} events of ${topic} committed`,
    async () => (await committedEvents(pool, topic)) >= total || undefined,
    timeoutMs,
    500,
  );
}

/** Every user's balance in Postgres against the replay; returns the differences (empty when exact). */
export async function compareBalances(pool: pg.Pool, expected: ExpectedBalances): Promise<Mismatch[]> {
  const r = await pool.query<{ user_id: string; points: string }>('SELECT user_id, points FROM balances');
  return expected.differences(new Map(r.rows.map((x) => [x.user_id, Number(x.points)])));
}

/** Ledger invariants: one row per offset (a unique index), and no applied event counted twice. The ledger holds one topic per database. */
export async function ledgerCounts(
  pool: pg.Pool,
  topic: string,
): Promise<{ rows: number; applied: number; rejected: number; duplicates: number; deadLetters: number }> {
  const r = await pool.query<{ rows: string; applied: string; rejected: string; duplicates: string }>(
    `SELECT count(*) AS rows, count(*) FILTER (WHERE status = 'applied') AS applied, count(*) FILTER (WHERE status = 'rejected') AS rejected,
            count(*) FILTER (WHERE status = 'duplicate') AS duplicates
     FROM point_transactions`,
  );
  const d = await pool.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters WHERE topic = $1', [topic]);
  const row = r.rows[0]!;
  return {
    rows: Number(row.rows),
    applied: Number(row.applied),
    rejected: Number(row.rejected),
    duplicates: Number(row.duplicates),
    deadLetters: Number(d.rows[0]!.n),
  };
}
