import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ensureTopics, topicMessageCount } from '../../../src/kafka/admin.js';
import { migrate } from '../../../src/store/migrations.js';
import { applyStackEnv, readStackEnv } from '../../../tools/stack/env-file.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../../../tools/stack/postgres-server.js';

applyStackEnv();

export function stackEnv(): { brokers: string; databaseUrl: string } {
  const recorded = readStackEnv();
  const brokers = process.env.KAFKA_BROKERS ?? recorded.KAFKA_BROKERS;
  const databaseUrl = process.env.DATABASE_URL ?? recorded.DATABASE_URL;
  if (!brokers || !databaseUrl) throw new Error('stack not up: run "npm run stack"');
  return { brokers, databaseUrl };
}

export const uniqueName = (prefix: string): string =>
  `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

/** A database of the test's own, so tests never see each other's rows. */
export async function freshDatabase(): Promise<{ url: string; pool: pg.Pool; drop: () => Promise<void> }> {
  const { databaseUrl } = stackEnv();
  const name = uniqueName('lt');
  await ensureDatabase(databaseUrl, name);
  const url = withDatabase(databaseUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => undefined); // tests that terminate backends may hit an idle one of ours
  return {
    url,
    pool,
    drop: async () => {
      await pool.end();
      await dropDatabase(databaseUrl, name);
    },
  };
}

/** freshDatabase with the engine's schema applied, as an engine's first start would leave it. */
export async function migratedDatabase(): Promise<Awaited<ReturnType<typeof freshDatabase>>> {
  const db = await freshDatabase();
  await migrate(db.pool);
  return db;
}

/** A topic (and its dead-letter topic) of the test's own. */
export async function freshTopic(partitions: number): Promise<{ topic: string; dlq: string }> {
  const { brokers } = stackEnv();
  const topic = uniqueName('events');
  await ensureTopics(brokers, [
    { topic, partitions },
    { topic: `${topic}.dlq`, partitions },
  ]);
  return { topic, dlq: `${topic}.dlq` };
}

export function messageCount(topic: string): Promise<number> {
  return topicMessageCount(stackEnv().brokers, topic);
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}
