import { KafkaJS } from '../../src/kafka/library.js';
import type { SimulatedMessage } from './generator.js';

export interface ProduceProgress {
  sent: number;
  errors: number;
  elapsedMs: number;
}

/**
 * Produces messages in order with an idempotent producer (so retries never reorder or
 * duplicate), keeping a few batches in flight. `ratePerSec` throttles when given.
 */
export async function produceMessages(
  brokers: string,
  topic: string,
  messages: Iterable<SimulatedMessage>,
  opts: {
    ratePerSec?: number;
    onProgress?: (p: ProduceProgress) => void;
    batchSize?: number;
    onSent?: (m: SimulatedMessage) => void;
  } = {},
): Promise<ProduceProgress> {
  const producer = new KafkaJS.Kafka({
    kafkaJS: { brokers: brokers.split(','), logLevel: KafkaJS.logLevel.ERROR },
  }).producer({
    'linger.ms': 5,
    'batch.num.messages': 10_000,
    'message.max.bytes': 2_000_000,
    'compression.type': 'lz4',
    kafkaJS: { idempotent: true, acks: -1 },
  });
  await producer.connect();
  const started = Date.now();
  const progress: ProduceProgress = { sent: 0, errors: 0, elapsedMs: 0 };
  const inFlight = new Set<Promise<void>>();
  const batchSize = opts.batchSize ?? 2000;
  let batch: SimulatedMessage[] = [];
  let lastReport = 0;
  let queued = 0;

  const flushBatch = async (): Promise<void> => {
    const b = batch;
    batch = [];
    queued += b.length;
    const p = producer
      .send({
        topic,
        messages: b.map((m) => ({
          key: m.key,
          value: m.value,
          ...(m.partition !== undefined && { partition: m.partition }),
        })),
      })
      .then(
        () => {
          progress.sent += b.length;
          if (opts.onSent) for (const m of b) opts.onSent(m);
        },
        () => {
          progress.errors += b.length;
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 8) await Promise.race(inFlight);
    if (opts.ratePerSec) {
      const due = started + (queued / opts.ratePerSec) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const now = Date.now();
    if (opts.onProgress && now - lastReport >= 1000) {
      lastReport = now;
      opts.onProgress({ ...progress, elapsedMs: now - started });
    }
  };

  for (const m of messages) {
    batch.push(m);
    if (batch.length >= batchSize) await flushBatch();
  }
  if (batch.length > 0) await flushBatch();
  await Promise.all(inFlight);
  await producer.disconnect();
  progress.elapsedMs = Date.now() - started;
  if (progress.errors > 0) throw new Error(`${progress.errors} messages were not acknowledged by the broker`);
  return progress;
}
