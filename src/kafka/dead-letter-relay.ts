import type pg from 'pg';
import { inTransaction } from '../store/transaction.js';
import type { Logger } from 'pino';
import { KafkaJS } from './library.js';
import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import { errorText } from '../errors.js';

interface DeadLetterRow {
  topic: string;
  partition: number;
  kafka_offset: string;
  reason: string;
  detail: string;
  message_key: Buffer | null;
  message_value: Buffer | null;
}

/** Dead-letter values above this are cut for the topic (the full bytes stay in Postgres): one huge message must not block the relay. */
export const DLQ_MAX_VALUE_BYTES = 512 * 1024;

/** What the relay needs of a producer (a test gives its own). */
export type RelayProducer = Pick<KafkaJSTypes.Producer, 'connect' | 'send' | 'disconnect'>;

/**
 * The outbox relay for dead letters: flushes record them in Postgres with the offsets
 * (so none can be lost), and this publishes unpublished rows to the dead-letter topic,
 * marking them once the broker has acknowledged them. Delivery to the topic is therefore
 * at least once; consumers can dedupe on the source partition and offset headers.
 */
export class DeadLetterRelay {
  private readonly producer: RelayProducer;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    brokers: string,
    private readonly sourceTopic: string,
    private readonly dlqTopic: string,
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly onPublished: (n: number) => void,
    producer?: RelayProducer,
  ) {
    this.producer =
      producer ??
      new KafkaJS.Kafka({
        kafkaJS: { brokers: brokers.split(','), logLevel: KafkaJS.logLevel.ERROR },
      }).producer({
        kafkaJS: { idempotent: true, acks: -1 },
      });
  }

  async start(): Promise<void> {
    await this.producer.connect();
    // Rows left by a crash between commit and publish are picked up here and by the periodic sweep.
    this.timer = setInterval(() => this.trigger(), 5000);
    this.trigger();
  }

  /** Asks for a relay pass; passes never overlap. */
  trigger(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((e: unknown) => this.log.warn({ err: errorText(e) }, 'dead-letter relay failed; will retry'))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const n = await inTransaction(this.pool, async (client) => {
        // SKIP LOCKED lets several engines relay at once without publishing a row twice.
        const r = await client.query<DeadLetterRow>(
          `SELECT topic, partition, kafka_offset, reason, detail, message_key, message_value FROM dead_letters
           WHERE topic = $1 AND published_at IS NULL ORDER BY partition, kafka_offset LIMIT 500 FOR UPDATE SKIP LOCKED`,
          [this.sourceTopic],
        );
        if (r.rows.length === 0) return 0;
        await this.producer.send({ topic: this.dlqTopic, messages: r.rows.map(dlqMessage) });
        await client.query(
          `UPDATE dead_letters SET published_at = now() WHERE topic = $1 AND (partition, kafka_offset) IN (SELECT * FROM unnest($2::int[], $3::bigint[]))`,
          [this.sourceTopic, r.rows.map((x) => x.partition), r.rows.map((x) => x.kafka_offset)],
        );
        return r.rows.length;
      });
      if (n > 0) this.onPublished(n);
      if (n < 500) return;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.trigger();
    // A pass asked for while one ran starts when it ends (trigger's finally): wait for that one too, or the
    // producer is gone under it ("Cannot send without awaiting connect()") and the last dead letters wait
    // for the next engine's sweep.
    while (this.running !== null) await this.running;
    await this.producer.disconnect();
  }
}

/** A dead letter as a message of the dead-letter topic: its bytes, with where it came from and why in headers. */
function dlqMessage(row: DeadLetterRow): { key: Buffer | null; value: Buffer | null; headers: Record<string, string> } {
  const value = row.message_value;
  const cut = value !== null && value.length > DLQ_MAX_VALUE_BYTES;
  return {
    key: row.message_key,
    value: cut ? value.subarray(0, DLQ_MAX_VALUE_BYTES) : value,
    headers: {
      'dlq.reason': row.reason,
      'dlq.detail': row.detail,
      'dlq.source.topic': row.topic,
      'dlq.source.partition': String(row.partition),
      'dlq.source.offset': row.kafka_offset,
      ...(cut && { 'dlq.value.truncated.from': String(value.length) }),
    },
  };
}
