import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { KafkaJS } from '../../src/kafka/library.js';
import { copyRow, copyText } from '../../src/store/copy-text.js';
import { freshDatabase, freshTopic, stackEnv } from './support/stack.js';
import { stackStatus, stackUp } from '../../tools/stack/stack.js';
import { brokerSettings, brokerStatus } from '../../tools/stack/kafka-broker.js';
import { isAlive } from '../../tools/stack/process-utils.js';

describe('the local stack', () => {
  it('reports Kafka and Postgres up', async () => {
    const s = await stackStatus();
    expect(s.kafka).toMatch(/^up at/);
    expect(s.postgres).toMatch(/^up at/);
    expect(s.up).toBe(true);
  });

  it('is idempotent, and brings a killed broker back', async () => {
    const before = await brokerStatus(brokerSettings());
    // Only a broker this checkout started can be killed and restarted here (CI's is).
    if (before.pid === null) {
      console.warn('[stack test] the broker was not started by this checkout: restart check not applicable');
      expect(before.answers).toBe(true);
      return;
    }
    const again = await stackUp(() => undefined);
    expect((await brokerStatus(brokerSettings())).pid).toBe(before.pid); // running twice changes nothing
    process.kill(before.pid, 'SIGKILL');
    while (isAlive(before.pid)) await new Promise((r) => setTimeout(r, 50));
    expect((await brokerStatus(brokerSettings())).answers).toBe(false);
    const after = await stackUp(() => undefined);
    expect(after.kafkaBrokers).toBe(again.kafkaBrokers);
    const now = await brokerStatus(brokerSettings());
    expect(now.answers).toBe(true);
    expect(now.pid).not.toBe(before.pid);
  });

  it('round-trips messages through the real broker', async () => {
    const { topic } = await freshTopic(3);
    const kafka = new KafkaJS.Kafka({
      kafkaJS: { brokers: stackEnv().brokers.split(','), logLevel: KafkaJS.logLevel.ERROR },
    });
    const producer = kafka.producer();
    await producer.connect();
    const sent = Array.from({ length: 50 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}` }));
    const values = sent.map((m) => m.value);
    await producer.send({ topic, messages: sent });
    await producer.disconnect();

    const consumer = kafka.consumer({ kafkaJS: { groupId: `${topic}-g`, fromBeginning: true } });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} of 50 messages came back`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message.value?.toString() ?? '');
          if (got.length === sent.length) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(got.sort()).toEqual(values.sort());
  });

  it('round-trips rows through Postgres with COPY, escapes included', async () => {
    const db = await freshDatabase();
    try {
      await db.pool.query('CREATE TABLE t (id int, note text)');
      const notes = ['plain', 'tab\there', 'line\nbreak', 'back\\slash', 'cr\rhere', 'ünïcødé', null];
      const payload = notes.map((n, i) => copyRow([String(i), copyText(n)])).join('');
      const client = await db.pool.connect();
      try {
        await pipeline(Readable.from([Buffer.from(payload)]), client.query(copyFrom('COPY t (id, note) FROM STDIN')));
      } finally {
        client.release();
      }
      const r = await db.pool.query<{ note: string | null }>('SELECT note FROM t ORDER BY id');
      expect(r.rows.map((x) => x.note)).toEqual(notes);
    } finally {
      await db.drop();
    }
  });
});
