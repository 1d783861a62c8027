import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/events/decode.js';
import { openPartitionOffset } from '../../src/store/offsets.js';
import { packBatch } from '../support/pack-batch.js';
import { testActor } from './support/actor.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

const TIMESTAMPS = [
  '2026-11-24T10:00:00Z',
  '2026-11-24T10:00:00.5Z',
  '2026-11-24T10:00:00.123456Z',
  '2026-11-24T10:00:00.1234565Z',
  '2026-11-24T10:00:00.1234575Z',
  '2026-11-24T10:00:00.123456789+05:30',
  '2026-11-24T23:59:59.9999995-08:00',
  '2026-03-07T23:59:59.9999995Z',
  '2026-12-31T23:59:60Z',
  '2026-12-31T23:59:60.5Z',
  '2026-12-31T23:59:60.1234567+01:00',
  '1999-12-31T23:59:59.9999999Z',
];

describe("the ledger's event time is the instant the engine read", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await migratedDatabase();
  });
  afterAll(async () => db.drop());

  it('Postgres reads the text the actor writes as the same millisecond (its day is the partition the flush makes)', async () => {
    const at = { topic: 't', partition: 0, offset: 0, key: 'u' };
    const events = TIMESTAMPS.map((timestamp) => {
      const r = decodeEvent(
        Buffer.from(JSON.stringify({ user_id: 'u', event_type: 'purchase', amount: 1, timestamp })),
        at,
        { maxMessageBytes: 65_536, maxAmount: 1e9 },
      );
      if (!r.ok) throw new Error(`${timestamp}: ${r.detail}`);
      return r.event;
    });
    const r = await db.pool.query<{ ms: string }>(
      `SELECT floor(extract(epoch FROM t::timestamptz) * 1000)::bigint::text AS ms
       FROM unnest($1::text[]) WITH ORDINALITY AS u(t, k) ORDER BY k`,
      [events.map((e) => e.timestamp)],
    );
    expect(r.rows.map((x) => Number(x.ms))).toEqual(events.map((e) => e.timestampMs));
  });

  it('a leap second, and a fraction rounding into the next day, are flushed (not retried forever) at those instants', async () => {
    const topic = 'event-time';
    const start = await openPartitionOffset(db.pool, topic, 0);
    const actor = testActor(db.pool, topic, 'owner', start);
    const events = [
      { event_id: 'fraction', timestamp: '2026-11-24T10:00:00.1234567+05:30', stored: '2026-11-24T04:30:00.123457Z' },
      // Rounds up into 8 March: the row needs that day's partition, which the flush must know to create.
      { event_id: 'carry', timestamp: '2026-03-07T23:59:59.9999995Z', stored: '2026-03-08T00:00:00Z' },
      // A leap second is read as :59 (decode.ts), the time rules and partitions use; Postgres refuses ":60.5" as text.
      { event_id: 'leap', timestamp: '2026-11-24T23:59:60.5Z', stored: '2026-11-24T23:59:59.5Z' },
      { event_id: 'plain', timestamp: '2026-11-24T10:00:01.5Z', stored: '2026-11-24T10:00:01.5Z' },
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
              amount: 1,
              timestamp: e.timestamp,
            }),
          ),
        })),
      ),
    );
    expect(await actor.flush()).toBe('ok');
    const r = await db.pool.query<{ event_id: string; same: boolean }>(
      `SELECT event_id, event_time = u.stored::timestamptz AS same
       FROM point_transactions JOIN unnest($1::text[], $2::text[]) AS u(id, stored) ON u.id = event_id
       WHERE user_id = 'alice' ORDER BY kafka_offset`,
      [events.map((e) => e.event_id), events.map((e) => e.stored)],
    );
    expect(r.rows).toEqual(events.map((e) => ({ event_id: e.event_id, same: true })));
  });
});
