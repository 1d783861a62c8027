import pg from 'pg';
import { workerData } from 'piscina';
import { createLogger } from '../logging/logger.js';
import { defaultRuleSet, parseRules, type RuleSet } from '../rules/index.js';
import { openPartition } from '../store/offsets.js';
import { PartitionActor, type ActorLimits } from './partition-actor.js';
import type { ActorResult, ActorTask } from './protocol.js';
import { errorText, postgresErrorFields } from '../errors.js';
import { sessionOptions } from '../store/session-options.js';

/** What the main thread passes to every worker at start. */
export interface WorkerSettings {
  databaseUrl: string;
  dbPoolSize: number;
  /** The rules validated by the main thread at start (null: the built-in rules). */
  rulesText: { version: string; text: string } | null;
  owner: string;
  logLevel: string;
  limits: ActorLimits;
}

const settings = workerData as WorkerSettings;
/** Far above any healthy flush statement (well under a second), far below "forever". */
const FLUSH_STATEMENT_TIMEOUT_MS = 60_000;
const log = createLogger(settings.logLevel, { thread: 'actor-worker' });
const pool = new pg.Pool({
  connectionString: settings.databaseUrl,
  max: settings.dbPoolSize,
  application_name: 'loyalty-engine',
  options: sessionOptions(FLUSH_STATEMENT_TIMEOUT_MS),
  keepAlive: true,
});
// A dropped connection must not crash the worker: the actor's retry loop handles it.
pool.on('error', (e) => log.warn({ err: e.message }, 'idle postgres connection failed'));

let rules: RuleSet = settings.rulesText ? parseRules(settings.rulesText.text) : defaultRuleSet();
const actors = new Map<string, PartitionActor>();
const keyOf = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function onRetry(what: string, error: unknown, attempt: number): void {
  const message = errorText(error);
  if (attempt === 1 || attempt % 10 === 0)
    log.warn({ attempt, err: message, ...postgresErrorFields(error) }, `${what} failed; retrying with backoff`);
}

function result(actor: PartitionActor | undefined, status: ActorResult['status']): ActorResult {
  const tally = actor?.takeTally();
  return {
    status,
    nextOffset: actor?.nextOffset ?? -1,
    committedOffset: actor?.committedOffset ?? -1,
    pending: actor?.pending ?? 0,
    events: tally?.events ?? {},
    deadLetters: tally?.deadLetters ?? {},
    flush: tally?.flush ?? null,
    recentIds: tally?.recentIds ?? { busyBytes: 0, givenUp: {} },
    ...(actor?.lifecycle != null &&
      tally !== undefined && {
        lifecycle: { ...actor.lifecycle, expiredPoints: tally.expiredPoints, releasedPoints: tally.releasedPoints },
      }),
  };
}

/** Piscina's entry point: one task for one partition actor at a time (the main thread serialises per partition). */
export default async function handle(task: ActorTask): Promise<ActorResult> {
  const key = keyOf(task.topic, task.partition);
  if (task.rules !== undefined && task.rules.version !== rules.version) {
    // Validated by the main thread already; compiled once per thread.
    rules = parseRules(task.rules.text);
    log.info({ version: rules.version }, 'rules reloaded');
  }
  if (task.op === 'open') {
    const { offset, deleted } = await openPartition(pool, task.topic, task.partition, {
      earliest: task.earliest,
      onTakeover: (pids) =>
        log.warn(
          { topic: task.topic, partition: task.partition, backends: pids },
          'ended engine sessions that held the partition past the takeover wait (a previous owner cut off mid-flush); their flushes roll back',
        ),
    });
    const actor = new PartitionActor(task.topic, task.partition, task.epoch, offset, {
      pool,
      rules: () => rules,
      limits: settings.limits,
      owner: settings.owner,
      onRetry,
    });
    actors.set(key, actor);
    const opened = result(actor, 'ok');
    if (deleted !== null) {
      log.error(
        {
          topic: task.topic,
          partition: task.partition,
          from: deleted.from,
          to: deleted.to,
          lost: deleted.to - deleted.from,
        },
        "offsets deleted by the topic's retention before they were applied; recorded as a dead letter, resuming at the first one Kafka holds",
      );
      opened.deadLetters = { deleted_by_retention: 1 };
    }
    return opened;
  }
  const actor = actors.get(key);
  if (actor === undefined || actor.epoch !== task.epoch) return result(undefined, 'unknown');
  let status: 'ok' | 'fenced' = 'ok';
  switch (task.op) {
    case 'process':
      status = await actor.process(task.batch, task.flush);
      break;
    case 'flush':
      status = await actor.flush();
      break;
    case 'close':
      if (task.flush) status = await actor.flush();
      actors.delete(key);
      break;
  }
  return result(actor, status);
}
