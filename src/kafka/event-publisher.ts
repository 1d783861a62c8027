import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import { CODES, KafkaJS } from './library.js';
import { TICK_HEADER, TICK_HEADER_VALUE } from './clock-tick.js';
import type { EventSink } from '../http/routes.js';
import { errorText } from '../errors.js';

export interface EventPublisherOptions {
  brokers: string;
  topic: string;
  /** A message the broker has not acknowledged after this long fails (POST /events answers 503). */
  deliveryTimeoutMs?: number;
  log?: Logger;
}

export interface EventPublisher extends EventSink {
  /** Writes a clock tick (src/kafka/clock-tick.ts) into one partition: no key, marked by its header. */
  publishTick: (partition: number, value: Buffer) => Promise<void>;
  /** Waits for unacknowledged messages (up to 5 s), then disconnects. */
  close: () => Promise<void>;
}

type Producer = KafkaJSTypes.Producer;

function newProducer(o: EventPublisherOptions): Producer {
  return new KafkaJS.Kafka({ kafkaJS: { brokers: o.brokers.split(','), logLevel: KafkaJS.logLevel.NOTHING } }).producer(
    {
      // Bounded: with the broker gone, a request fails after this instead of waiting for librdkafka's 5 minutes.
      'message.timeout.ms': o.deliveryTimeoutMs ?? 5000,
      'linger.ms': 1,
      // The in-memory queue is bounded too: past it, send fails at once (503) rather than growing.
      'queue.buffering.max.messages': 100_000,
      kafkaJS: { idempotent: true, acks: -1 },
    },
  );
}

/**
 * The producer behind POST /events: idempotent, acks=all, one message per request, key = user_id (so the
 * event lands in the partition that owns the user). A fatal producer error (the idempotent producer can
 * raise one) replaces the producer, so the API recovers without a restart.
 */
export async function connectEventPublisher(o: EventPublisherOptions): Promise<EventPublisher> {
  const timeoutMs = o.deliveryTimeoutMs ?? 5000;
  let producer = newProducer(o);
  await producer.connect();
  let closed = false;
  let replacing: Promise<void> | null = null;

  const replace = (failed: Producer): void => {
    if (replacing || closed || failed !== producer) return;
    o.log?.warn('event producer hit a fatal error; replacing it');
    replacing = (async () => {
      await failed.disconnect().catch(() => undefined);
      const next = newProducer(o);
      await next.connect();
      producer = next;
    })()
      .catch((e: unknown) =>
        o.log?.warn({ err: errorText(e) }, 'event producer reconnect failed; the next fatal error retries'),
      )
      .finally(() => (replacing = null));
  };

  const send = async (message: {
    key?: string;
    value: Buffer;
    partition?: number;
    headers?: Record<string, string>;
  }): Promise<void> => {
    if (closed) throw new Error('the event producer is closed');
    if (replacing) throw new Error('the event producer is reconnecting');
    const p = producer;
    // librdkafka enforces message.timeout.ms loosely (measured: 8-12 s for 5 s with the broker gone): the
    // answer is bounded here. The message may still be delivered later; the client's retry with the same
    // event_id is then recorded as a duplicate.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not acknowledged within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([p.send({ topic: o.topic, messages: [message] }), late]);
    } catch (e) {
      if ((e as { code?: number }).code === CODES.ERRORS.ERR__FATAL) replace(p);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    publish: (key, value) => send({ key, value }),
    publishTick: (partition, value) => send({ partition, value, headers: { [TICK_HEADER]: TICK_HEADER_VALUE } }),
    close: async () => {
      closed = true;
      await replacing;
      await producer.disconnect();
    },
  };
}
