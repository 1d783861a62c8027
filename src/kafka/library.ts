// The package is CommonJS: Node's ESM loader cannot see its named exports, so take them from the default export once here.
import kafkaJavascript from '@confluentinc/kafka-javascript';

export const { KafkaJS, KafkaConsumer, IsolationLevel, CODES } = kafkaJavascript;
export type { Message, LibrdKafkaError, TopicPartitionOffset, TopicPartition } from '@confluentinc/kafka-javascript';
