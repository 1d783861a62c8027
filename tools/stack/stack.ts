import { redactConnectionString } from '../../src/logging/logger.js';
import { readStackEnv, writeStackEnv } from './env-file.js';
import { brokerAddress, brokerSettings, brokerStatus, startBroker, stopBroker } from './kafka-broker.js';
import { postgresAnswers, resolvePostgres, stopPrivateCluster } from './postgres-server.js';
import { brokerAnswersMetadata } from '../../src/kafka/admin.js';
import { dockerStackUp } from './docker-stack.js';

export interface StackEndpoints {
  kafkaBrokers: string;
  databaseUrl: string;
}

/**
 * Brings Kafka and Postgres up (idempotent) and records where they are in .stack/env.
 * A KAFKA_BROKERS given in the environment that answers is used as is (an external broker).
 */
export async function stackUp(
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StackEndpoints> {
  if (env.STACK === 'docker') {
    const ends = await dockerStackUp(env, log);
    writeStackEnv({ KAFKA_BROKERS: ends.kafkaBrokers, DATABASE_URL: ends.databaseUrl });
    return ends;
  }
  let kafkaBrokers: string;
  if (env.KAFKA_BROKERS && (await brokerAnswersMetadata(env.KAFKA_BROKERS))) {
    log(`kafka: using KAFKA_BROKERS=${env.KAFKA_BROKERS}`);
    kafkaBrokers = env.KAFKA_BROKERS;
  } else {
    kafkaBrokers = await startBroker(brokerSettings(env), log);
  }
  const pgInfo = await resolvePostgres(env, log);
  writeStackEnv({ KAFKA_BROKERS: kafkaBrokers, DATABASE_URL: pgInfo.url });
  return { kafkaBrokers, databaseUrl: pgInfo.url };
}

export async function stackDown(log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await stopBroker(brokerSettings(env), log);
  stopPrivateCluster(log);
}

export async function stackStatus(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ kafka: string; postgres: string; up: boolean }> {
  const recorded = readStackEnv();
  const s = brokerSettings(env);
  const broker = await brokerStatus(s);
  const kafkaUrl = env.KAFKA_BROKERS ?? recorded.KAFKA_BROKERS ?? brokerAddress(s);
  const kafkaUp = broker.answers || (await brokerAnswersMetadata(kafkaUrl, 2000));
  const dbUrl = env.DATABASE_URL ?? recorded.DATABASE_URL;
  const pgUp = dbUrl ? await postgresAnswers(dbUrl) : false;
  return {
    kafka: kafkaUp ? `up at ${kafkaUrl}${broker.pid ? ` (local broker pid ${broker.pid})` : ''}` : 'down',
    postgres: pgUp && dbUrl ? `up at ${redactConnectionString(dbUrl)}` : 'down',
    up: kafkaUp && pgUp,
  };
}
