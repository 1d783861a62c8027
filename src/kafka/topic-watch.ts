import type { KafkaJS as KafkaJSTypes } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import { errorText } from '../errors.js';
import { createAdmin, topicId } from './admin.js';
import { TopicReplacedError } from '../store/topic-identity.js';

/**
 * Asks Kafka for the events topic's id every `everyMs` and reports once when it is no longer `boundId`,
 * the id the stored positions belong to (checked at start by bindTopicIdentity). A topic deleted and
 * created again while the engine runs brings no rebalance: librdkafka goes on fetching from the old
 * positions, and the new topic's messages below them would be skipped as applied. Unanswered checks
 * (broker away, topic deleted and not yet created again) only wait for the next one.
 */
export function watchTopicIdentity(o: {
  brokers: string;
  topic: string;
  boundId: string;
  everyMs: number;
  log: Logger;
  onReplaced: (e: TopicReplacedError) => void;
}): { stop: () => Promise<void> } {
  // One connection for every check; a client that failed is dropped, as librdkafka clients are not reconnected.
  let admin: KafkaJSTypes.Admin | null = null;
  let busy = false;
  let reported = false;
  const check = async (): Promise<void> => {
    if (admin === null) {
      const fresh = createAdmin(o.brokers);
      await fresh.connect();
      admin = fresh;
    }
    const id = await topicId(o.brokers, o.topic, admin);
    if (id !== o.boundId && !reported) {
      reported = true;
      o.onReplaced(
        new TopicReplacedError(
          `topic ${o.topic} now has id ${id}, but the engine started on id ${o.boundId}: it was deleted and created again ` +
            'while the engine ran. Its positions in Postgres belong to the old topic, so the engine stops before skipping ' +
            'the new messages below them (README, "A topic created again").',
        ),
      );
    }
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    check()
      .catch((e: unknown) => {
        void admin?.disconnect().catch(() => undefined);
        admin = null;
        o.log.debug({ err: errorText(e), topic: o.topic }, 'topic id check unanswered');
      })
      .finally(() => (busy = false));
  }, o.everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await admin?.disconnect().catch(() => undefined);
    },
  };
}
