import type pg from 'pg';
import { PartitionActor } from '../../../src/actors/partition-actor.js';
import { defaultRuleSet } from '../../../src/rules/index.js';

/** A partition actor driven directly (no consumer, no worker thread), flushing only when told to. */
export function testActor(pool: pg.Pool, topic: string, owner: string, offset: number): PartitionActor {
  return new PartitionActor(topic, 0, 1, offset, {
    pool,
    rules: () => defaultRuleSet(),
    limits: { maxMessageBytes: 65536, flushMaxEvents: 1_000_000, cacheUsers: 1000 },
    owner,
    onRetry: () => undefined,
  });
}
