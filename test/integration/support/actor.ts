import type pg from 'pg';
import { PartitionActor } from '../../../src/actors/partition-actor.js';
import { defaultRuleSet } from '../../../src/rules/index.js';

/** A partition actor driven directly (no consumer, no worker thread), flushing only when told to. */
export function testActor(
  pool: pg.Pool,
  topic: string,
  owner: string,
  offset: number,
  cacheUsers = 1000,
): PartitionActor {
  return new PartitionActor(topic, 0, 1, offset, {
    pool,
    rules: () => defaultRuleSet(),
    // Tests write fixed timestamps: a century of retention keeps them applicable whatever today's date.
    limits: {
      maxMessageBytes: 65536,
      cacheUsers,
      ledgerRetentionMs: 36_500 * 86_400_000,
      ledgerFutureMs: 7 * 86_400_000,
    },
    owner,
    onRetry: () => undefined,
  });
}
