import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import { KafkaJS, IsolationLevel } from './library.js';

/** A KafkaJS-style admin client with librdkafka's own logging silenced (callers report errors). */
export function createAdmin(brokers: string): KafkaJSTypes.Admin {
  const kafka = new KafkaJS.Kafka({
    kafkaJS: { brokers: brokers.split(','), logLevel: KafkaJS.logLevel.NOTHING, connectionTimeout: 3000 },
  });
  return kafka.admin();
}

/** True when a broker at `brokers` answers a metadata request within the timeout. */
export async function brokerAnswersMetadata(brokers: string, timeoutMs = 3000): Promise<boolean> {
  const admin = createAdmin(brokers);
  try {
    await withTimeout(admin.connect(), timeoutMs);
    await withTimeout(admin.listTopics({ timeout: timeoutMs }), timeoutMs);
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export interface TopicSpec {
  topic: string;
  partitions: number;
}

/** Creates the topics that are missing; existing topics are left as they are. */
export async function ensureTopics(brokers: string, topics: TopicSpec[]): Promise<string[]> {
  const admin = createAdmin(brokers);
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics({ timeout: 10_000 }));
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        timeout: 30_000,
        topics: missing.map((t) => ({ topic: t.topic, numPartitions: t.partitions, replicationFactor: 1 })),
      });
    }
    return missing.map((t) => t.topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * High watermark per partition (the offset the next produced message will get). Pass a connected
 * `admin` to read often without a connection per call (the caller disconnects it).
 */
export async function highWatermarks(
  brokers: string,
  topic: string,
  connected?: KafkaJSTypes.Admin,
): Promise<Map<number, number>> {
  const admin = connected ?? createAdmin(brokers);
  if (connected === undefined) await admin.connect();
  try {
    // Just after a topic is created some partitions may have no leader yet: the broker answers -1 for them.
    for (let attempt = 0; ; attempt++) {
      const offsets = await admin.fetchTopicOffsets(topic, {
        timeout: 10_000,
        isolationLevel: IsolationLevel.READ_UNCOMMITTED,
      });
      if (offsets.every((o) => Number(o.high) >= 0) || attempt === 50)
        return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    if (connected === undefined) await admin.disconnect();
  }
}

/** Messages a topic holds from offset 0: the sum of its high watermarks. */
export async function topicMessageCount(
  brokers: string,
  topic: string,
  connected?: KafkaJSTypes.Admin,
): Promise<number> {
  let n = 0;
  for (const high of (await highWatermarks(brokers, topic, connected)).values()) n += Math.max(0, high);
  return n;
}

/**
 * The id Kafka gave the topic when it was created (KIP-516), as Kafka prints it (URL-safe base64 of the
 * 16 bytes). A topic deleted and created again under the same name gets a new id. Pass a connected `admin`
 * to ask often (the caller disconnects it).
 */
export async function topicId(brokers: string, topic: string, connected?: KafkaJSTypes.Admin): Promise<string> {
  const admin = connected ?? createAdmin(brokers);
  if (connected === undefined) await admin.connect();
  try {
    const [meta] = await admin.fetchTopicMetadata({ topics: [topic], timeout: 10_000 });
    const id = meta?.topicId;
    if (id === undefined) throw new Error(`the broker gave no topic id for ${topic} (Kafka 2.8 or newer gives one)`);
    return kafkaUuidText(id.mostSignificantBits, id.leastSignificantBits);
  } finally {
    if (connected === undefined) await admin.disconnect();
  }
}

/** Kafka's text form of a UUID (org.apache.kafka.common.Uuid#toString): URL-safe base64 of its 16 bytes, unpadded. */
export function kafkaUuidText(mostSignificantBits: bigint, leastSignificantBits: bigint): string {
  const bytes = Buffer.alloc(16);
  bytes.writeBigInt64BE(BigInt.asIntN(64, BigInt(mostSignificantBits)), 0);
  bytes.writeBigInt64BE(BigInt.asIntN(64, BigInt(leastSignificantBits)), 8);
  return bytes.toString('base64url');
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
