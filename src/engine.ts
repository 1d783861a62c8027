import path from 'node:path';
import { existsSync } from 'node:fs';
import pg from 'pg';
import type { Logger } from 'pino';
import { ActorPool } from './actors/actor-pool.js';
import { ConfigError, type EngineConfig } from './config/env.js';
import { DeadLetterRelay } from './kafka/dead-letter-relay.js';
import { EngineConsumer } from './kafka/consumer/engine-consumer.js';
import { consoleRoutes } from './http/console-routes.js';
import { connectEventPublisher, type EventPublisher } from './kafka/event-publisher.js';
import { startClockTicks } from './kafka/clock-tick.js';
import { engineRoutes, type EventSink } from './http/routes.js';
import { startHttpServer, type HttpServer } from './http/uws-server.js';
import { ensureTopics, highWatermarks, topicId } from './kafka/admin.js';
import { createMetrics } from './metrics/registry.js';
import { watchRules } from './rules/hot-reload.js';
import { defaultRuleSet, loadRulesFile } from './rules/index.js';
import { ROOT_DIR } from './paths.js';
import { waitForDependency } from './startup/wait-for-dependency.js';
import { dependencyStateLog } from './startup/dependency-state-log.js';
import { startLedgerMaintenance } from './store/ledger-maintenance.js';
import { retentionProblem } from './store/ledger-retention.js';
import { migrate } from './store/migrations.js';
import { sessionOptions } from './store/session-options.js';
import { bindTopicIdentity } from './store/topic-identity.js';
import { watchTopicIdentity } from './kafka/topic-watch.js';

export interface Engine {
  httpPort: number;
  stop: () => Promise<void>;
  /**
   * Settles only if the engine must stop at once, without a final flush: the events topic was replaced under it
   * (TopicReplacedError), or the Kafka consumer failed for good.
   */
  failed: Promise<Error>;
}

/** Wires the engine: HTTP first, then (waiting for each) schema, topics, actor threads, dead-letter relay, producer, consumer. */
export async function startEngine(cfg: EngineConfig, log: Logger): Promise<Engine> {
  const rulesFile = path.isAbsolute(cfg.RULES_FILE) ? cfg.RULES_FILE : path.join(ROOT_DIR, cfg.RULES_FILE);
  // Validate the rules here, once, so a bad file stops the process with its error before anything starts.
  const rules = existsSync(rulesFile) ? loadRulesFile(rulesFile) : defaultRuleSet();
  // The snapshot in force on this thread, replaced on reload: the API's tiers and amount limit come from it.
  let rulesInForce = rules;
  const shortRetention = retentionProblem(cfg.LEDGER_RETENTION, rules);
  if (shortRetention !== null) throw new ConfigError(shortRetention);
  const metrics = createMetrics();
  metrics.rulesInfo.set({ version: rules.version }, 1);

  const pool = new pg.Pool({
    connectionString: cfg.DATABASE_URL,
    max: cfg.DB_POOL_SIZE,
    application_name: 'loyalty-engine',
    options: sessionOptions(),
  });
  pool.on('error', (e) => log.warn({ err: e.message }, 'idle postgres connection failed'));

  // Set once Kafka answers; until then POST /events answers 503 and /readyz says what start-up waits for.
  let consumer: EngineConsumer | undefined;
  let publisher: EventPublisher | undefined;
  let startupWaiting: string | null = 'starting';
  const events: EventSink = {
    publish: (key, value) =>
      publisher
        ? publisher.publish(key, value)
        : Promise.reject(new Error('the engine is still starting: no Kafka producer yet')),
  };

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
  // HTTP first: a taken port fails at once, and /healthz and /readyz answer while start-up waits for Kafka and Postgres.
  let http: HttpServer;
  try {
    http = await startHttpServer(
      cfg.HTTP_HOST,
      cfg.HTTP_PORT,
      engineRoutes({
        pool,
        registry: metrics.registry,
        tierOf: (lifetimeEarned) => rulesInForce.tierOf(lifetimeEarned),
        lifecycle: () => rulesInForce.lifecycle !== null,
        events,
        decodeLimits: () => ({ maxMessageBytes: cfg.MAX_MESSAGE_BYTES, maxAmount: rulesInForce.maxAmount }),
        apiToken: cfg.API_TOKEN,
        readConcurrency: cfg.API_READ_CONCURRENCY,
        isReady: () => {
          if (startupWaiting !== null || consumer === undefined)
            return { ready: false, reasons: [startupWaiting ?? 'starting'] };
          const reasons: string[] = [];
          if (consumer.assigned === 0) reasons.push('no partitions assigned');
          if (!dbUp) reasons.push('database not answering');
          if (!consumer.brokerReachable) reasons.push('kafka broker not answering');
          return { ready: reasons.length === 0, reasons };
        },
      }).concat(
        consoleRoutes({ metrics, pool, topic: cfg.KAFKA_TOPIC, partitions: () => consumer?.activePartitions ?? [] }),
      ),
      (route, status, seconds) => metrics.httpDuration.observe({ route, status: String(status) }, seconds),
    );
  } catch (e) {
    clearInterval(dbCheck);
    await pool.end();
    throw e;
  }
  log.info({ port: http.port, host: cfg.HTTP_HOST }, 'http listening');

  const deadline = cfg.STARTUP_TIMEOUT_MS === undefined ? Infinity : Date.now() + cfg.STARTUP_TIMEOUT_MS;
  const logDependency = dependencyStateLog(log);
  const waitFor = <T>(name: string, step: string, attempt: () => Promise<T>): Promise<T> =>
    waitForDependency(name, attempt, {
      deadline,
      onState: (waiting) => {
        startupWaiting = waiting ?? 'starting';
        logDependency(name, step, waiting);
      },
    });

  let actors: ActorPool | undefined;
  let relay: DeadLetterRelay | undefined;
  let ledgerMaintenance: ReturnType<typeof startLedgerMaintenance> | undefined;
  let kafkaTopicId = '';
  let fail: (e: Error) => void = () => undefined;
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  try {
    const applied = await waitFor('postgres', 'migrations', () => migrate(pool));
    if (applied.length > 0) log.info({ applied }, 'schema migrations applied');
    // Ledger partitions for the days ahead, and retention: at start (before any flush) and hourly.
    ledgerMaintenance = startLedgerMaintenance(
      pool,
      { retentionMs: cfg.LEDGER_RETENTION, archiveDir: cfg.LEDGER_ARCHIVE_DIR },
      log,
      metrics.registry,
    );
    await ledgerMaintenance.ready;

    const created = await waitFor('kafka', 'topics', () =>
      ensureTopics(cfg.KAFKA_BROKERS, [
        { topic: cfg.KAFKA_TOPIC, partitions: cfg.KAFKA_TOPIC_PARTITIONS },
        { topic: cfg.KAFKA_DLQ_TOPIC, partitions: cfg.KAFKA_TOPIC_PARTITIONS },
      ]),
    );
    if (created.length > 0) log.info({ created }, 'topics created');
    // Outside waitFor: a topic that is not the one the stored positions belong to is no reason to wait.
    kafkaTopicId = await waitFor('kafka', 'topic id', () => topicId(cfg.KAFKA_BROKERS, cfg.KAFKA_TOPIC));
    await bindTopicIdentity(pool, cfg.KAFKA_TOPIC, {
      id: kafkaTopicId,
      highWatermarks: () => highWatermarks(cfg.KAFKA_BROKERS, cfg.KAFKA_TOPIC),
    });

    actors = new ActorPool(cfg.WORKER_THREADS, {
      databaseUrl: cfg.DATABASE_URL,
      dbPoolSize: Math.max(2, cfg.DB_POOL_SIZE),
      rulesText: rules.text !== null ? { version: rules.version, text: rules.text } : null,
      owner: cfg.ENGINE_ID,
      logLevel: cfg.LOG_LEVEL,
      limits: {
        maxMessageBytes: cfg.MAX_MESSAGE_BYTES,
        cacheUsers: cfg.ACTOR_CACHE_USERS,
        ledgerRetentionMs: cfg.LEDGER_RETENTION,
        ledgerFutureMs: cfg.LEDGER_FUTURE_LIMIT,
        expiryBatchLots: cfg.EXPIRY_BATCH_LOTS,
        recentIdsBusyBytes: cfg.RECENT_IDS_BUSY_MB * 1024 * 1024,
      },
    });
    const actorPool = actors;

    // Each attempt builds its client afresh: a librdkafka client that failed to connect is not reused.
    relay = await waitFor('kafka', 'dead-letter producer', async () => {
      const r = new DeadLetterRelay(cfg.KAFKA_BROKERS, cfg.KAFKA_TOPIC, cfg.KAFKA_DLQ_TOPIC, pool, log, (n) =>
        metrics.deadLettersPublished.inc(n),
      );
      await r.start();
      return r;
    });
    const deadLetterRelay = relay;
    publisher = await waitFor('kafka', 'event publisher', () =>
      connectEventPublisher({ brokers: cfg.KAFKA_BROKERS, topic: cfg.KAFKA_TOPIC, log }),
    );
    consumer = await waitFor('kafka', 'consumer', async () => {
      const c = new EngineConsumer(
        {
          brokers: cfg.KAFKA_BROKERS,
          topic: cfg.KAFKA_TOPIC,
          groupId: cfg.KAFKA_GROUP_ID,
          clientId: cfg.ENGINE_ID,
          sessionTimeoutMs: cfg.KAFKA_SESSION_TIMEOUT_MS,
          groupInstanceId: cfg.KAFKA_GROUP_INSTANCE_ID,
          maxMessageBytes: cfg.MAX_MESSAGE_BYTES,
          maxBatchEvents: cfg.MAX_BATCH_EVENTS,
          maxQueuedEvents: cfg.MAX_QUEUED_EVENTS,
          flushMaxEvents: cfg.FLUSH_MAX_EVENTS,
          flushMaxAgeMs: cfg.FLUSH_MAX_AGE_MS,
          actorLingerMs: cfg.ACTOR_LINGER_MS,
        },
        actorPool,
        metrics,
        log,
      );
      c.onDeadLetters = () => deadLetterRelay.trigger();
      c.onFatal = (e) => fail(e);
      await c.start();
      return c;
    });
    startupWaiting = null;
  } catch (e) {
    http.close();
    clearInterval(dbCheck);
    ledgerMaintenance?.stop();
    await relay?.stop().catch(() => undefined);
    await publisher?.close().catch(() => undefined);
    await actors?.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw e;
  }
  // Everything below runs once start-up has connected all of these.
  const running = { consumer, actors, relay, publisher };

  const rulesReloader = watchRules(rulesFile, rules, {
    applied: (next, text) => {
      running.consumer.setRules(text);
      rulesInForce = next;
      metrics.rulesInfo.reset();
      metrics.rulesInfo.set({ version: next.version }, 1);
      log.info({ version: next.version, file: rulesFile }, 'rules reloaded');
    },
    rejected: (e) => {
      metrics.rulesReloadFailures.inc();
      log.error({ err: e.message, file: rulesFile }, 'rules file rejected; keeping the rules in force');
    },
  });

  const stopTicks =
    cfg.CLOCK_TICK_MS === 0
      ? () => undefined
      : startClockTicks({
          intervalMs: cfg.CLOCK_TICK_MS,
          partitions: () => running.consumer.activePartitions,
          enabled: () => rulesInForce.lifecycle !== null,
          publish: (p, value) => running.publisher.publishTick(p, value),
          log,
        });

  const topicWatch = watchTopicIdentity({
    brokers: cfg.KAFKA_BROKERS,
    topic: cfg.KAFKA_TOPIC,
    boundId: kafkaTopicId,
    everyMs: 1000,
    log,
    onReplaced: (e) => fail(e),
  });

  log.info(
    {
      topic: cfg.KAFKA_TOPIC,
      topicId: kafkaTopicId,
      group: cfg.KAFKA_GROUP_ID,
      threads: cfg.WORKER_THREADS,
      rules: rules.version,
    },
    'engine started',
  );

  return {
    httpPort: http.port,
    failed,
    stop: async () => {
      http.close();
      await topicWatch.stop();
      rulesReloader.stop();
      stopTicks();
      await running.consumer.stop();
      clearInterval(dbCheck);
      ledgerMaintenance?.stop();
      await running.relay.stop();
      await running.actors.close();
      await running.publisher.close();
      await pool.end();
    },
  };
}
