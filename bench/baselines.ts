import { spawn } from 'node:child_process';
import { KafkaConsumer } from '../src/kafka/library.js';
import type { RdConsumer } from '../src/kafka/consumer/rdkafka-consumer.js';
import { consumeBatch, FETCH_SETTINGS } from '../src/kafka/consumer/rdkafka-consumer.js';
import { kcatBinary } from '../tools/simulator/kcat-producer.js';
import { now, progress } from './support.js';

/**
 * The ceiling for this language: the same librdkafka client and batch consume loop, doing nothing
 * with the messages. Two ways:
 * - 'like-engine': the engine's fetch settings, timed like the engine from a cold start (connect,
 *   join a new consumer group, consume everything). The drain ratio is taken against this.
 * - 'best-case': partitions assigned by hand (no group), a 64 MiB fetch queue, timed after connect.
 */
export async function rawConsumerRate(
  brokers: string,
  topic: string,
  partitions: number,
  total: number,
  mode: 'like-engine' | 'best-case',
): Promise<{ seconds: number; rate: number }> {
  const p = progress(`raw librdkafka consumer (${mode})`);
  let started = now();
  const fetch =
    mode === 'like-engine' ? FETCH_SETTINGS : { 'fetch.wait.max.ms': 50, 'queued.max.messages.kbytes': 65536 };
  const c = new KafkaConsumer(
    { 'bootstrap.servers': brokers, 'group.id': `bench-raw-${Date.now()}`, 'enable.auto.commit': false, ...fetch },
    { 'auto.offset.reset': 'earliest' },
  ) as unknown as RdConsumer & { assign: (a: { topic: string; partition: number; offset: number }[]) => void };
  await new Promise<void>((resolve, reject) => c.connect({}, (err) => (err ? reject(err) : resolve())));
  c.setDefaultConsumeTimeout(100);
  if (mode === 'like-engine') {
    c.subscribe([topic]);
  } else {
    started = now();
    c.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
  }
  let seen = 0;
  let bytes = 0;
  while (seen < total) {
    const msgs = await consumeBatch(c, 5000);
    seen += msgs.length;
    for (const m of msgs) bytes += m.value?.length ?? 0; // touch the data, as any consumer would
    if (seen % 100_000 < msgs.length) p.update(`${seen}/${total}`);
  }
  const seconds = (now() - started) / 1000;
  p.done(`${seen} in ${seconds.toFixed(2)} s (${bytes} bytes)`);
  await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  return { seconds, rate: total / seconds };
}

/** The C ceiling: kcat consuming every message (offsets printed and counted, values not), when installed. */
export async function kcatRate(
  brokers: string,
  topic: string,
  total: number,
): Promise<{ seconds: number; rate: number } | null> {
  const bin = kcatBinary();
  if (!bin) return null;
  const p = progress(bin);
  p.update('consuming');
  const started = now();
  const child = spawn(bin, ['-C', '-b', brokers, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o\n'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let lines = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const seconds = (now() - started) / 1000;
  if (code !== 0 || lines !== total) {
    p.done(`not counted: exit ${code}, ${lines} of ${total} messages`);
    return null;
  }
  p.done(`${lines} in ${seconds.toFixed(2)} s`);
  return { seconds, rate: total / seconds };
}
