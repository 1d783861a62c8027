import pg from 'pg';
import { workerData } from 'piscina';
import { createLogger } from '../logging/logger.js';
import { defaultRuleSet, parseRules, type RuleSet } from '../rules/index.js';
import { openPartitionOffset } from '../store/flush.js';
import { PartitionActor, type ActorLimits } from './partition-actor.js';
import type { ActorResult, ActorTask, Counts, FlushStats } from './protocol.js';

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
const log = createLogger(settings.logLevel, { thread: 'actor-worker' });
const pool = new pg.Pool({ connectionString: settings.databaseUrl, max: settings.dbPoolSize, application_name: 'loyalty-engine' });
// A dropped connection must not crash the worker: the actor's retry loop handles it.
pool.on('error', (e) => log.warn({ err: e.message }, 'idle postgres connection failed'));

let rules: RuleSet = settings.rulesText ? parseRules(settings.rulesText.text) : defaultRuleSet();
const actors = new Map<string, PartitionActor>();
const keyOf = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function onRetry(what: string, error: unknown, attempt: number): void {
  const message = error instanceof Error ? error.message : String(error);
  if (attempt === 1 || attempt % 10 === 0) log.warn({ attempt, err: message }, `${what} failed; retrying with backoff`);
}

function result(actor: PartitionActor | undefined, status: ActorResult['status'], events: Counts, deadLetters: Counts, flushes: FlushStats[]): ActorResult {
  return {
    status,
    nextOffset: actor?.nextOffset ?? -1,
    committedOffset: actor?.committedOffset ?? -1,
    pending: actor?.pending ?? 0,
    events,
    deadLetters,
    flushes,
  };
}

/** Piscina's entry point: one task for one partition actor at a time (the main thread serialises per partition). */
export default async function handle(task: ActorTask): Promise<ActorResult> {
  const events: Counts = {};
  const dead: Counts = {};
  const flushes: FlushStats[] = [];
  const key = keyOf(task.topic, task.partition);
  if (task.rules !== undefined && task.rules.version !== rules.version) {
    // Validated by the main thread already; compiled once per thread.
    rules = parseRules(task.rules.text);
    log.info({ version: rules.version }, 'rules reloaded');
  }
  if (task.op === 'open') {
    const offset = await openPartitionOffset(pool, task.topic, task.partition);
    const actor = new PartitionActor(task.topic, task.partition, task.epoch, offset, {
      pool,
      rules: () => rules,
      limits: settings.limits,
      owner: settings.owner,
      onRetry,
    });
    actors.set(key, actor);
    return result(actor, 'ok', events, dead, flushes);
  }
  const actor = actors.get(key);
  if (actor === undefined || actor.epoch !== task.epoch) return result(undefined, 'unknown', events, dead, flushes);
  let status: 'ok' | 'fenced' = 'ok';
  switch (task.op) {
    case 'process':
      status = await actor.process(task.batch, events, dead, flushes);
      break;
    case 'flush':
      status = await actor.flush(flushes);
      break;
    case 'close':
      if (task.flush) status = await actor.flush(flushes);
      actors.delete(key);
      break;
  }
  return result(actor, status, events, dead, flushes);
}
