import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { decodeEvent } from '../src/events/decode.js';
import type { LoyaltyEvent } from '../src/events/event.js';
import { BinaryCopyBuffer } from '../src/store/copy-binary.js';
import { CopyBuffer } from '../src/store/copy-buffer.js';
import { copyText, COPY_NULL } from '../src/store/copy-text.js';
import { LEDGER_COLUMNS, ledgerRow } from '../src/store/ledger-row.js';
import { migrate } from '../src/store/migrations.js';
import { generateMessages, recentMonday } from '../tools/simulator/generator.js';
import { applyStackEnv } from '../tools/stack/env-file.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../tools/stack/postgres-server.js';
import { stackUp } from '../tools/stack/stack.js';
import { table } from './support.js';

/**
 * What the ledger's COPY format costs each side, apart from the engine's other work (a drain varies too
 * much between runs to show it): the simulator's events as ledger rows, encoded as the actor does, in
 * the text format it sent until 2026-12-07 and in the binary format it sends now, and COPYed into a
 * table with the ledger's columns and both indexes. Interleaved rounds, medians:
 *   npx tsx bench/ledger-copy.ts --rows 400000 --rounds 3
 * Postgres' side is the COPY statement's wall time in its one backend (little I/O: the table is fresh).
 */

// The row as text COPY, exactly as the actor wrote it before binary COPY (the baseline).
function textRow(out: CopyBuffer, e: LoyaltyEvent, offset: number, points: number, balance: number): void {
  out.append(
    `${e.timestamp}\t${offset}\t${points}\t${balance}\t0\t1\t${e.type}\tapplied\t${e.userId}\t${copyText(e.eventId)}\t${e.amount}\t${copyText(e.originalEventId)}\t${COPY_NULL}\n`,
  );
}

function binaryRow(out: BinaryCopyBuffer, e: LoyaltyEvent, offset: number, points: number, balance: number): void {
  ledgerRow(
    out,
    e.timestampMs,
    e.timestampMicros,
    offset,
    points,
    balance,
    0,
    1,
    e.type,
    'applied',
    e.userId,
    e.eventId,
    e.amount,
    e.originalEventId,
    null,
  );
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rows: { type: 'string' }, rounds: { type: 'string' } } });
  const rows = Number(values.rows ?? 400_000);
  const rounds = Number(values.rounds ?? 3);
  applyStackEnv();
  const ends = await stackUp((l) => process.stderr.write(`[stack] ${l}\n`));
  const events: LoyaltyEvent[] = [];
  let i = 0;
  const at = { topic: 'bench', partition: 0, offset: 0, key: null as string | null };
  for (const m of generateMessages(rows * 2, {
    users: 100_000,
    skew: 1.1,
    cycleUsers: false,
    redeemRatio: 0.2,
    badRatio: 0,
    seed: 7,
    startMs: recentMonday(),
  })) {
    at.offset = i++;
    at.key = m.key;
    const r = decodeEvent(m.value, at, { maxMessageBytes: 65_536, maxAmount: 1e9 });
    if (r.ok) events.push(r.event);
    if (events.length === rows) break;
  }
  const dbName = `bench_ledger_copy_${Date.now().toString(36)}`;
  await ensureDatabase(ends.databaseUrl, dbName);
  const pool = new pg.Pool({ connectionString: withDatabase(ends.databaseUrl, dbName), max: 1 });
  const measured: Record<'text' | 'binary', { encode: number[]; copy: number[]; bytes: number }> = {
    text: { encode: [], copy: [], bytes: 0 },
    binary: { encode: [], copy: [], bytes: 0 },
  };
  try {
    await migrate(pool);
    // A plain table shaped as one daily partition, with the ledger's two indexes (sql/003).
    await pool.query(`CREATE TABLE ledger_copy (LIKE point_transactions INCLUDING DEFAULTS)`);
    await pool.query(
      `CREATE UNIQUE INDEX ON ledger_copy (user_id, partition, kafka_offset DESC, event_time);
       CREATE INDEX ON ledger_copy (hashtextextended(user_id || '/' || event_id, 0)) WHERE status <> 'duplicate'`,
    );
    for (let round = 0; round < rounds; round++) {
      for (const format of round % 2 === 0 ? (['text', 'binary'] as const) : (['binary', 'text'] as const)) {
        const text = new CopyBuffer(1 << 20);
        const binary = new BinaryCopyBuffer(1 << 20);
        const t0 = performance.now();
        for (let k = 0; k < events.length; k++) {
          const e = events[k]!;
          if (format === 'text') textRow(text, e, k, Math.floor(e.amount), k);
          else binaryRow(binary, e, k, Math.floor(e.amount), k);
        }
        const payload = format === 'text' ? text.bytes() : binary.bytes();
        const t1 = performance.now();
        await pool.query('TRUNCATE ledger_copy');
        const c = await pool.connect();
        const t2 = performance.now();
        try {
          await pipeline(
            Readable.from([payload]),
            c.query(
              copyFrom(
                `COPY ledger_copy (${LEDGER_COLUMNS}) FROM STDIN${format === 'binary' ? ' (FORMAT binary)' : ''}`,
              ),
            ),
          );
        } finally {
          c.release();
        }
        const t3 = performance.now();
        measured[format].encode.push(((t1 - t0) * 1000) / events.length);
        measured[format].copy.push(((t3 - t2) * 1000) / events.length);
        measured[format].bytes = payload.length / events.length;
        process.stderr.write(
          `[ledger-copy] round ${round + 1}/${rounds} ${format}: encode ${(t1 - t0).toFixed(0)} ms, COPY ${(t3 - t2).toFixed(0)} ms\n`,
        );
      }
    }
  } finally {
    await pool.end();
    await dropDatabase(ends.databaseUrl, dbName);
  }
  const out = (['text', 'binary'] as const).map((f) => ({
    format: f,
    'encode µs/row (engine)': median(measured[f].encode).toFixed(2),
    'COPY µs/row (Postgres)': median(measured[f].copy).toFixed(2),
    'all rounds, COPY': measured[f].copy.map((x) => x.toFixed(2)).join(' / '),
    'bytes/row': measured[f].bytes.toFixed(0),
  }));
  console.log(`\n${events.length} ledger rows (100,000 users), ${rounds} interleaved rounds, medians:`);
  console.log(table(out));
}

main().catch((e: unknown) => {
  console.error(`[bench] error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
