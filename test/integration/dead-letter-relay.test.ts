import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterRelay, type RelayProducer } from '../../src/kafka/dead-letter-relay.js';
import { migratedDatabase } from './support/stack.js';

type Db = Awaited<ReturnType<typeof migratedDatabase>>;

/** A producer whose first send waits for the test; like the real one, it refuses to send once disconnected. */
function gatedProducer(): { producer: RelayProducer; release: () => void; sends: number[]; firstSend: Promise<void> } {
  let connected = false;
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let sent = (): void => undefined;
  const firstSend = new Promise<void>((r) => (sent = r));
  const sends: number[] = [];
  const producer = {
    connect: async () => {
      connected = true;
    },
    disconnect: async () => {
      connected = false;
    },
    send: async (r: { messages: unknown[] }) => {
      if (!connected) throw new Error('Cannot send without awaiting connect()');
      sends.push(r.messages.length);
      if (sends.length === 1) {
        sent();
        await gate;
      }
      return [];
    },
  } as unknown as RelayProducer;
  return { producer, release: () => release(), sends, firstSend };
}

const insertDeadLetters = (db: Db, offsets: number[]): Promise<unknown> =>
  db.pool.query(
    `INSERT INTO dead_letters (topic, partition, kafka_offset, reason, detail, message_key, message_value)
     SELECT 'dl-src', 0, o, 'malformed_json', 'test', NULL, '\\x7b'::bytea FROM unnest($1::bigint[]) AS o`,
    [offsets],
  );

describe('the dead-letter relay stopping', () => {
  let db: Db;
  beforeAll(async () => {
    db = await migratedDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('publishes what a pass asked for during the last one before it disconnects', async () => {
    const lines: string[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    );
    const p = gatedProducer();
    let published = 0;
    const relay = new DeadLetterRelay(
      'unused:9092',
      'dl-src',
      'dl-src.dlq',
      db.pool,
      log,
      (n) => (published += n),
      p.producer,
    );
    await insertDeadLetters(db, [0, 1, 2]);
    await relay.start();
    await p.firstSend; // the first pass holds rows 0-2, waiting on the broker
    await insertDeadLetters(db, [3, 4]); // committed meanwhile, as a flush does
    const stopping = relay.stop(); // asks for one more pass while the first still runs
    p.release();
    await stopping;

    // Without waiting for that pass, stop disconnected under it: its send failed (a warning) and rows 3-4
    // stayed unpublished until another engine's sweep.
    expect(lines.filter((l) => l.includes('dead-letter relay failed'))).toEqual([]);
    expect(p.sends).toEqual([3, 2]);
    expect(published).toBe(5);
    const left = await db.pool.query('SELECT kafka_offset FROM dead_letters WHERE published_at IS NULL');
    expect(left.rows).toEqual([]);
  });
});
