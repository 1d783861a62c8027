import os from 'node:os';
import { z } from 'zod';
import { durationSchema } from '../rules/duration.js';
import { DEFAULT_BUSY_BYTES } from '../actors/recent-ids.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** Every setting the engine reads from the environment, with its default. */
const schema = z.object({
  KAFKA_BROKERS: z.string().min(1, 'required (run "npm run stack" or set it)'),
  KAFKA_TOPIC: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name')
    .default('loyalty-events'),
  KAFKA_DLQ_TOPIC: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name')
    .optional(),
  KAFKA_TOPIC_PARTITIONS: int(1, 10_000).default(12),
  KAFKA_GROUP_ID: z.string().min(1).default('loyalty-engine'),
  KAFKA_SESSION_TIMEOUT_MS: int(1000, 300_000).default(10_000),
  /**
   * Static group membership (KIP-345), unique per engine and kept across its restarts (a StatefulSet pod's name):
   * an engine back within KAFKA_SESSION_TIMEOUT_MS gets its partitions again without a rebalance. The cost: one
   * stopped for good leaves them unowned until that timeout ends, as it does not leave the group.
   */
  KAFKA_GROUP_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,249}$/, 'letters, digits and . _ : - only')
    .optional(),
  DATABASE_URL: z
    .string()
    .url('a postgres:// URL')
    .refine((u) => /^postgres(ql)?:/.test(u), 'must start with postgres:// or postgresql://'),
  HTTP_PORT: int(0, 65535).default(8080),
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  // Measured: on 2 cores, 2 actor threads drain 11 % faster than 1 (the main thread is mostly idle).
  WORKER_THREADS: int(1, 64).default(Math.max(2, Math.min(4, os.availableParallelism() - 1))),
  /** Flush a partition once this many events are pending ... */
  FLUSH_MAX_EVENTS: int(1, 10_000_000).default(20_000),
  /** ... or once its oldest pending event is this old (Kafka Streams' exactly-once commit interval is 100 ms too). */
  FLUSH_MAX_AGE_MS: int(1, 600_000).default(100),
  /**
   * Pause fetching a partition whose events waiting for its actor (fetched, not yet applied) pass this.
   * The actor's own unflushed events stay under FLUSH_MAX_EVENTS + MAX_BATCH_EVENTS (it flushes inline).
   */
  MAX_QUEUED_EVENTS: int(1, 100_000_000).default(20_000),
  /** Messages handed to one actor task at most. */
  MAX_BATCH_EVENTS: int(1, 1_000_000).default(5_000),
  /**
   * A partition's fetched messages wait up to this long (or until MAX_BATCH_EVENTS) to go to its actor as one
   * task; 0 sends each fetch's messages at once. Adds to an event's time to Postgres about this, at most twice it
   * (the dispatch timer's period and the fetch loop's rest). Unset: 20, or a fifth of FLUSH_MAX_AGE_MS when
   * that is less (defaultLinger); set, it must be 0 or under FLUSH_MAX_AGE_MS.
   */
  ACTOR_LINGER_MS: int(0, 10_000).optional(),
  /** Users kept in memory per partition actor (dirty users are never evicted). */
  ACTOR_CACHE_USERS: int(100, 100_000_000).default(200_000),
  MAX_MESSAGE_BYTES: int(64, 100_000_000).default(64 * 1024),
  DB_POOL_SIZE: int(1, 100).default(4),
  /** Balance queries in flight at once for GET /points; requests arriving meanwhile share the next query. */
  API_READ_CONCURRENCY: int(1, 64).default(1),
  RULES_FILE: z.string().default('config/rules.yaml'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(30_000),
  /** How long start-up waits for Kafka and Postgres to answer; unset: forever (an orchestrator may start them later). */
  STARTUP_TIMEOUT_MS: int(1, 86_400_000).optional(),
  ENGINE_ID: z.string().min(1).default(`${os.hostname()}:${process.pid}`),
  /** When set, POST /events and history require `Authorization: Bearer <API_TOKEN>`. */
  API_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  /** Ledger partitions (days of event time) older than this are dropped; at least the idempotency and refund windows. */
  LEDGER_RETENTION: durationSchema.default(90 * 86_400_000),
  /** Events further ahead of the clock than this are dead letters (event_too_far_ahead). */
  LEDGER_FUTURE_LIMIT: durationSchema.default(7 * 86_400_000),
  /** When set, each ledger partition is written here (gzip'd COPY text) before retention drops it. */
  LEDGER_ARCHIVE_DIR: z.string().min(1).optional(),
  /**
   * Under a `lifecycle:` block: due lots of users not in memory one flush expires in SQL at most (whole
   * users, so a few more). Measured about 20 µs a lot on 2 cores (docs/lifecycle.md): the default keeps
   * that share of a flush well under FLUSH_MAX_AGE_MS; a backlog takes further flushes, one after another.
   */
  EXPIRY_BATCH_LOTS: int(1, 100_000_000).default(2_000),
  /**
   * Memory (MiB) each partition actor gives to busy users' recent event ids: those with more ids in the idempotency
   * window than a balance row holds (256). Past it a busy user's duplicate checks read the ledger's whole window
   * (loyalty_recent_ids_given_up_total{reason="memory_budget"}), which costs Postgres far more CPU than the memory
   * saves. About 12-20 bytes an id; loyalty_recent_ids_busy_bytes shows what is used.
   */
  RECENT_IDS_BUSY_MB: int(0, 65_536).default(DEFAULT_BUSY_BYTES / (1024 * 1024)),
  /** Under a `lifecycle:` block, a clock tick is written into each owned partition this often (wall time); 0 = never. */
  CLOCK_TICK_MS: int(0, 86_400_000)
    .refine((v) => v === 0 || v >= 100, 'must be 0 (no ticks) or at least 100 (ms)')
    .default(60_000),
});

/** Checks across settings, reported with the others. */
const checked = schema.superRefine((c, ctx) => {
  // A batch that waits as long as a flush may would hold every event past its flush age.
  const linger = c.ACTOR_LINGER_MS;
  if (linger !== undefined && linger > 0 && linger >= c.FLUSH_MAX_AGE_MS)
    ctx.addIssue({
      code: 'custom',
      path: ['ACTOR_LINGER_MS'],
      message: `must be 0 or less than FLUSH_MAX_AGE_MS (${c.FLUSH_MAX_AGE_MS}): a batch would wait as long as its flush may`,
    });
});

export type EngineConfig = z.infer<typeof schema> & { KAFKA_DLQ_TOPIC: string; ACTOR_LINGER_MS: number };

export class ConfigError extends Error {}

/**
 * ACTOR_LINGER_MS when unset: 20, shrinking with a flush age under 100 ms instead of refusing a FLUSH_MAX_AGE_MS
 * under 20 that was valid before the linger existed.
 */
const defaultLinger = (flushMaxAgeMs: number): number => Math.min(20, Math.floor(flushMaxAgeMs / 5));

/** Validates the environment; the error names every bad variable. */
export function loadEngineConfig(env: NodeJS.ProcessEnv = process.env): EngineConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = checked.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  return {
    ...parsed.data,
    KAFKA_DLQ_TOPIC: parsed.data.KAFKA_DLQ_TOPIC ?? `${parsed.data.KAFKA_TOPIC}.dlq`,
    ACTOR_LINGER_MS: parsed.data.ACTOR_LINGER_MS ?? defaultLinger(parsed.data.FLUSH_MAX_AGE_MS),
  };
}
