import { beforeAll, describe, expect, it } from 'vitest';
import { KafkaConsumer, KafkaJS, type Message } from '../../src/kafka/library.js';
import { freshTopic, stackEnv, uniqueName } from './support/stack.js';

/**
 * The Kafka client is compiled with patches/ (tools/kafka-binding.mjs): consume(n) puts every key and value
 * of a batch in one ArrayBuffer and makes property names once. Its messages must be what the stock
 * conversion makes: the same bytes, nulls, headers and coordinates.
 */
describe('the patched Kafka client', () => {
  let topic: string;
  const { brokers } = stackEnv();

  beforeAll(async () => {
    ({ topic } = await freshTopic(1));
    const producer = new KafkaJS.Kafka({
      kafkaJS: { brokers: brokers.split(','), logLevel: KafkaJS.logLevel.ERROR },
    }).producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: 'k1', value: 'v1' },
        { key: null, value: 'v2', headers: { h: 'x' } },
        { key: 'k3', value: Buffer.alloc(0) },
        { key: 'k4', value: null },
        { key: 'k5', value: 'ü'.repeat(1000) },
      ],
    });
    await producer.disconnect();
  });

  /** Every consume(10) call's messages, until `count` arrived. */
  async function consumeCalls(count: number): Promise<Message[][]> {
    const c = new KafkaConsumer(
      { 'bootstrap.servers': brokers, 'group.id': uniqueName('binding'), 'enable.auto.commit': false },
      { 'auto.offset.reset': 'earliest' },
    );
    await new Promise<void>((resolve, reject) => c.connect({}, (e) => (e ? reject(e) : resolve())));
    try {
      c.setDefaultConsumeTimeout(200);
      // In the binding, not in its type declarations (src/kafka/consumer/rdkafka-consumer.ts does the same).
      (
        c as unknown as { setDefaultIsTimeoutOnlyForFirstMessage: (on: boolean) => void }
      ).setDefaultIsTimeoutOnlyForFirstMessage(true);
      c.assign([{ topic, partition: 0, offset: 0 }]);
      const calls: Message[][] = [];
      const deadline = Date.now() + 20_000;
      while (calls.flat().length < count && Date.now() < deadline) {
        const got = await new Promise<Message[]>((resolve, reject) =>
          c.consume(10, (e, m) => (e ? reject(e) : resolve(m))),
        );
        if (got.length > 0) calls.push(got);
      }
      return calls;
    } finally {
      await new Promise<void>((resolve) => c.disconnect(() => resolve()));
    }
  }

  it('gives each message its own bytes, nulls, headers and coordinates', async () => {
    const messages = (await consumeCalls(5)).flat();
    const text = (b: Buffer | null | undefined): string | null | undefined => (b == null ? b : b.toString('utf8'));
    expect(messages.map((m) => text(m.key as Buffer | null))).toEqual(['k1', null, 'k3', 'k4', 'k5']);
    // An empty value comes as null, as librdkafka gives it no payload (the stock conversion alike).
    expect(messages.map((m) => text(m.value))).toEqual(['v1', 'v2', null, null, 'ü'.repeat(1000)]);
    expect(messages.map((m) => [m.topic, m.partition, m.offset, m.size])).toEqual([
      [topic, 0, 0, 2],
      [topic, 0, 1, 2],
      [topic, 0, 2, 0],
      [topic, 0, 3, 0],
      [topic, 0, 4, 2000],
    ]);
    expect(messages.every((m) => Buffer.isBuffer(m.value) || m.value === null)).toBe(true);
    expect(messages[1]!.headers).toEqual([{ h: Buffer.from('x') }]);
    expect(messages.filter((m) => m.headers !== undefined)).toHaveLength(1);
    // A Buffer over a shared ArrayBuffer must not show its neighbours' bytes.
    expect(messages[0]!.value!.length).toBe(2);
    expect([...messages[0]!.value!]).toEqual([...Buffer.from('v1')]);
  });

  it("puts one consume call's keys and values in one ArrayBuffer (the patch is compiled in)", async () => {
    const calls = await consumeCalls(5);
    const batch = calls.find((c) => c.length >= 2);
    expect(batch, `consume calls of ${calls.map((c) => c.length).join(', ')} messages`).toBeDefined();
    const buffers = batch!.flatMap((m) => [m.key, m.value]).filter((b): b is Buffer => Buffer.isBuffer(b));
    expect(new Set(buffers.map((b) => b.buffer)).size).toBe(1);
  });
});
