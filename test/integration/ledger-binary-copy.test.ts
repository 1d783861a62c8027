import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinaryCopyBuffer } from '../../src/store/copy-binary.js';
import { parseTimestamp } from '../../src/events/decode.js';
import { migrate } from '../../src/store/migrations.js';
import { openPartitionOffset } from '../../src/store/offsets.js';
import { packBatch } from '../support/pack-batch.js';
import { testActor } from './support/actor.js';
import { freshDatabase } from './support/stack.js';

// What Postgres makes of the text forms is the reference: binary rows must store exactly that.
const AMOUNTS = [
  0,
  1,
  7,
  12.5,
  0.1 + 0.2,
  1e-7,
  5e-324,
  123_456_789.123,
  99_999.9999,
  10_000,
  1e21,
  1.5e300,
  0.0001,
  0.00012,
  1234.5,
  -5,
  -0.5,
  -1e-7,
  2 ** 53,
  -(2 ** 53),
  31.41592653589793,
];
const INTS = [0, 1, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53) + 1, 123_456_789_012];
const TIMESTAMPS = [
  '2026-11-24T10:00:00Z',
  '2026-11-24T10:00:00.5Z',
  '2026-11-24T10:00:00.123Z',
  '2026-11-24T10:00:00.1234Z',
  '2026-11-24T10:00:00.123456Z',
  '2026-11-24T10:00:00.1234565Z',
  '2026-11-24T10:00:00.1234575Z',
  '2026-11-24T10:00:00.123456789+05:30',
  '2026-11-24T23:59:59.9999995-08:00',
  '2026-11-24T23:59:59.9995Z',
  '1999-12-31T23:59:59.999999Z',
  '1970-01-01T00:00:00.0000005Z',
  // Microseconds beyond 2^53 (more than about 285 years from 2000).
  '1000-01-01T00:00:00.123457Z',
  '9999-12-31T23:59:59.999999Z',
];
const TEXTS = ['plain', 'tab\there', 'back\\slash', 'new\nline\r', 'café ☕ 𝄞', '\\N', ''];

describe('binary COPY rows are what Postgres stores for the same values as text', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase();
    await migrate(db.pool);
  });
  afterAll(async () => db.drop());

  it('numerics, bigints, timestamps with microseconds, texts and NULLs', async () => {
    const c = await db.pool.connect();
    try {
      await c.query(`CREATE TEMP TABLE b (i int, n numeric, big bigint, t timestamptz, s text, st ledger_status)`);
      const rows = Math.max(AMOUNTS.length, INTS.length, TIMESTAMPS.length, TEXTS.length);
      const buf = new BinaryCopyBuffer(16); // grows many times
      for (let i = 0; i < rows; i++) {
        buf.row(6).int32(i);
        if (i < AMOUNTS.length) buf.numeric(AMOUNTS[i]!);
        else buf.null();
        if (i < INTS.length) buf.int64(INTS[i]!);
        else buf.null();
        const ts = i < TIMESTAMPS.length ? parseTimestamp(TIMESTAMPS[i]!) : null;
        if (ts !== null) buf.timestamp(ts.ms, ts.micros);
        else buf.null();
        buf.textOrNull(TEXTS[i]).text(i % 2 === 0 ? 'applied' : 'duplicate');
      }
      expect(buf.rowCount).toBe(rows);
      await pipeline(Readable.from([buf.bytes()]), c.query(copyFrom('COPY b FROM STDIN (FORMAT binary)')));
      const got = await c.query<{
        i: number;
        n: string | null;
        big: string | null;
        t_eq: boolean | null;
        s: string | null;
        st: string;
      }>(
        `SELECT i, n::text AS n, big::text AS big, t = ($1::text[])[i + 1]::timestamptz AS t_eq, s, st::text AS st FROM b ORDER BY i`,
        [TIMESTAMPS],
      );
      const want = await c.query<{ n: string }>(
        'SELECT x::numeric::text AS n FROM unnest($1::text[]) WITH ORDINALITY AS u(x, k) ORDER BY k',
        [AMOUNTS.map(String)],
      );
      expect(got.rows.map((r) => r.n).slice(0, AMOUNTS.length)).toEqual(want.rows.map((r) => r.n));
      expect(got.rows.map((r) => r.big).slice(0, INTS.length)).toEqual(INTS.map(String));
      expect(got.rows.map((r) => r.t_eq).slice(0, TIMESTAMPS.length)).toEqual(TIMESTAMPS.map(() => true));
      expect(got.rows.map((r) => r.s)).toEqual(Array.from({ length: rows }, (_, i) => TEXTS[i] ?? null));
      expect(got.rows.map((r) => r.st)).toEqual(
        Array.from({ length: rows }, (_, i) => (i % 2 === 0 ? 'applied' : 'duplicate')),
      );
    } finally {
      c.release();
    }
  });

  it("an actor's ledger rows keep the event's id, time to the microsecond and amount as sent", async () => {
    const topic = 'binary-ledger';
    const start = await openPartitionOffset(db.pool, topic, 0);
    const actor = testActor(db.pool, topic, 'owner', start);
    const events = [
      { event_id: 'id\twith\\odd\nbytes ☕', amount: 0.1 + 0.2, timestamp: '2026-11-24T10:00:00.1234567+05:30' },
      { event_id: 'second', amount: 1234.5, timestamp: '2026-11-24T10:00:01.9999995Z' },
      // Rounds up into the next day: the row needs that day's partition, which the flush must know to create.
      { event_id: 'carry', amount: 1, timestamp: '2026-03-07T23:59:59.9999995Z' },
      // A leap second is read as :59 (decode.ts), the time rules and partitions use; Postgres refuses ":60.5" as text.
      { event_id: 'leap', amount: 2, timestamp: '2026-11-24T23:59:60.5Z', stored: '2026-11-24T23:59:59.5Z' },
    ];
    await actor.process(
      packBatch(
        events.map((e, i) => ({
          offset: start + i,
          key: Buffer.from('alice'),
          value: Buffer.from(
            JSON.stringify({
              user_id: 'alice',
              event_type: 'purchase',
              event_id: e.event_id,
              amount: e.amount,
              timestamp: e.timestamp,
            }),
          ),
        })),
      ),
    );
    expect(await actor.flush()).toBe('ok');
    const r = await db.pool.query<{ event_id: string; amount: string; same_time: boolean; same_amount: boolean }>(
      `SELECT event_id, amount::text AS amount, event_time = ($1::text[])[k]::timestamptz AS same_time,
              amount = ($2::text[])[k]::numeric AS same_amount
       FROM point_transactions JOIN unnest($3::text[]) WITH ORDINALITY AS u(id, k) ON u.id = event_id
       WHERE user_id = 'alice' ORDER BY kafka_offset`,
      [events.map((e) => e.stored ?? e.timestamp), events.map((e) => String(e.amount)), events.map((e) => e.event_id)],
    );
    expect(r.rows.map((x) => x.event_id)).toEqual(events.map((e) => e.event_id));
    expect(r.rows.every((x) => x.same_time && x.same_amount)).toBe(true);
    expect(r.rows.map((x) => x.amount)).toEqual(['0.30000000000000004', '1234.5', '1', '2']);
  });
});
