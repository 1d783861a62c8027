import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import type { Logger } from 'pino';
import { ActorPool } from './actors/actor-pool.js';
import type { EngineConfig } from './config/env.js';
import { DeadLetterRelay } from './consumer/dead-letter-relay.js';
import { EngineConsumer } from './consumer/engine-consumer.js';
import { apiRulesFrom } from './http/api-rules.js';
import { connectEventPublisher } from './http/event-publisher.js';
import { engineRoutes } from './http/routes.js';
import { startHttpServer, type HttpServer } from './http/uws-server.js';
import { ensureTopics } from './kafka/admin.js';
import { createMetrics } from './metrics/registry.js';
import { watchRules } from './rules/hot-reload.js';
import { defaultRuleSet, parseRules } from './rules/index.js';
import { ROOT_DIR } from './stack/paths.js';
import { migrate } from './store/migrations.js';

export interface Engine {
  httpPort: number;
  stop: () => Promise<void>;
}

/** Wires the engine: schema, topics, actor threads, consumer, dead-letter relay, HTTP. */
export async function startEngine(cfg: EngineConfig, log: Logger): Promise<Engine> {
  const rulesFile = path.isAbsolute(cfg.RULES_FILE) ? cfg.RULES_FILE : path.join(ROOT_DIR, cfg.RULES_FILE);
  // Validate the rules here, once, so a bad file stops the process with its error before anything starts.
  const rulesText = existsSync(rulesFile) ? readFileSync(rulesFile, 'utf8') : null;
  const rules = rulesText !== null ? parseRules(rulesText, rulesFile) : defaultRuleSet();
  const metrics = createMetrics();
  metrics.rulesInfo.set({ version: rules.version }, 1);

  const pool = new pg.Pool({ connectionString: cfg.DATABASE_URL, max: cfg.DB_POOL_SIZE, application_name: 'loyalty-engine' });
  pool.on('error', (e) => log.warn({ err: e.message }, 'idle postgres connection failed'));
  const applied = await migrate(pool);
  if (applied.length > 0) log.info({ applied }, 'schema migrations applied');

  const created = await ensureTopics(cfg.KAFKA_BROKERS, [
    { topic: cfg.KAFKA_TOPIC, partitions: cfg.KAFKA_TOPIC_PARTITIONS },
    { topic: cfg.KAFKA_DLQ_TOPIC, partitions: cfg.KAFKA_TOPIC_PARTITIONS },
  ]);
  if (created.length > 0) log.info({ created }, 'topics created');

  const actors = new ActorPool(cfg.WORKER_THREADS, {
    databaseUrl: cfg.DATABASE_URL,
    dbPoolSize: Math.max(2, cfg.DB_POOL_SIZE),
    rulesText: rulesText !== null ? { version: rules.version, text: rulesText } : null,
    owner: cfg.ENGINE_ID,
    logLevel: cfg.LOG_LEVEL,
    limits: { maxMessageBytes: cfg.MAX_MESSAGE_BYTES, flushMaxEvents: cfg.FLUSH_MAX_EVENTS, cacheUsers: cfg.ACTOR_CACHE_USERS },
  });

  const relay = new DeadLetterRelay(cfg.KAFKA_BROKERS, cfg.KAFKA_TOPIC, cfg.KAFKA_DLQ_TOPIC, pool, log, (n) => metrics.deadLettersPublished.inc(n));
  await relay.start();

  const consumer = new EngineConsumer(
    {
      brokers: cfg.KAFKA_BROKERS,
      topic: cfg.KAFKA_TOPIC,
      groupId: cfg.KAFKA_GROUP_ID,
      clientId: cfg.ENGINE_ID,
      sessionTimeoutMs: cfg.KAFKA_SESSION_TIMEOUT_MS,
      maxMessageBytes: cfg.MAX_MESSAGE_BYTES,
      maxBatchEvents: cfg.MAX_BATCH_EVENTS,
      maxQueuedEvents: cfg.MAX_QUEUED_EVENTS,
      flushMaxAgeMs: cfg.FLUSH_MAX_AGE_MS,
    },
    actors,
    metrics,
    log,
  );
  consumer.onDeadLetters = () => relay.trigger();

  // Readiness follows the database (and the broker, probed by the consumer): checked in the background so
  // /readyz itself never waits on Postgres.
  let dbUp = true;
  const dbCheck = setInterval(() => {
    pool.query('SELECT 1').then(
      () => (dbUp = true),
      () => (dbUp = false),
    );
  }, 1000);

  // POST /events produces to the events topic; tiers and the amount limit come from the rules in force
  // (replaced when the rules are reloaded, below).
  const httpRules = { current: apiRulesFrom(rulesText, rulesFile) };
  const publisher = await connectEventPublisher({ brokers: cfg.KAFKA_BROKERS, topic: cfg.KAFKA_TOPIC, log });
  const http: HttpServer = await startHttpServer(
    cfg.HTTP_HOST,
    cfg.HTTP_PORT,
    engineRoutes({
      pool,
      registry: metrics.registry,
      tierOf: (lifetimeEarned) => httpRules.current.tierOf(lifetimeEarned),
      events: publisher,
      decodeLimits: () => ({ maxMessageBytes: cfg.MAX_MESSAGE_BYTES, maxAmount: httpRules.current.maxAmount }),
      apiToken: cfg.API_TOKEN,
      readConcurrency: cfg.API_READ_CONCURRENCY,
      isReady: () => {
        const reasons: string[] = [];
        if (consumer.assigned === 0) reasons.push('no partitions assigned');
        if (!dbUp) reasons.push('database not answering');
        if (!consumer.brokerReachable) reasons.push('kafka broker not answering');
        return { ready: reasons.length === 0, reasons };
      },
    }),
    (route, status, seconds) => metrics.httpDuration.observe({ route, status: String(status) }, seconds),
  );
  log.info({ port: http.port, host: cfg.HTTP_HOST }, 'http listening');

  const rulesReloader = watchRules(rulesFile, rules, {
    applied: (next, text) => {
      consumer.setRules(text);
      httpRules.current = apiRulesFrom(text.text, rulesFile);
      metrics.rulesInfo.reset();
      metrics.rulesInfo.set({ version: next.version }, 1);
      log.info({ version: next.version, file: rulesFile }, 'rules reloaded');
    },
    rejected: (e) => {
      metrics.rulesReloadFailures.inc();
      log.error({ err: e.message, file: rulesFile }, 'rules file rejected; keeping the rules in force');
    },
  });

  await consumer.start();
  log.info({ topic: cfg.KAFKA_TOPIC, group: cfg.KAFKA_GROUP_ID, threads: cfg.WORKER_THREADS, rules: rules.version }, 'engine started');

  return {
    httpPort: http.port,
    stop: async () => {
      http.close();
      rulesReloader.stop();
      await consumer.stop();
      clearInterval(dbCheck);
      await relay.stop();
      await actors.close();
      await publisher.close();
      await pool.end();
    },
  };
}
