import { spawnSync } from 'node:child_process';
import { ROOT_DIR } from './paths.js';
import { sleep, StackError } from './process-utils.js';
import { brokerAnswersMetadata } from '../../src/kafka/admin.js';
import { postgresAnswers } from './postgres-server.js';

/** `docker compose` (the plugin) or the older `docker-compose`, whichever this machine has; null for neither. */
export function composeCommand(): string[] | null {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  return null;
}

/**
 * STACK=docker: Kafka and Postgres from docker-compose.yml instead of local processes.
 * Needs a running Docker engine; says so in one line when there is none.
 */
export async function dockerStackUp(
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<{ kafkaBrokers: string; databaseUrl: string }> {
  const compose = composeCommand();
  if (compose === null)
    throw new StackError(
      'STACK=docker needs docker compose (or docker-compose): install it, or unset STACK for the local stack',
    );
  if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) {
    throw new StackError(
      'STACK=docker but no Docker engine answers ("docker info" fails): start one, or unset STACK for the local stack',
    );
  }
  const [cmd, ...args] = compose;
  log('docker: starting kafka and postgres from docker-compose.yml ...');
  const r = spawnSync(cmd!, [...args, 'up', '-d', 'kafka', 'postgres'], { cwd: ROOT_DIR, stdio: 'inherit' });
  if (r.status !== 0) throw new StackError('docker compose up failed (see its output above)');
  const kafkaBrokers = `127.0.0.1:${env.KAFKA_HOST_PORT ?? 29092}`;
  const databaseUrl = `postgres://loyalty:loyalty@127.0.0.1:${env.POSTGRES_HOST_PORT ?? 5432}/loyalty`;
  const deadline = Date.now() + 120_000;
  while (!(await brokerAnswersMetadata(kafkaBrokers, 2000)) || !(await postgresAnswers(databaseUrl))) {
    if (Date.now() > deadline)
      throw new StackError('the docker stack did not answer within 120 s: see "docker compose logs kafka postgres"');
    await sleep(1000);
  }
  log(`docker: kafka at ${kafkaBrokers}, postgres ready`);
  return { kafkaBrokers, databaseUrl };
}
