import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { inTransaction } from './transaction.js';
import { from as copyFrom } from 'pg-copy-streams';
import { ensureLedgerPartitions, forgetLedgerPartitions, isMissingPartition, utcDay } from './ledger-partitions.js';
import {
  expireDue,
  expiringMoments,
  releasedPoints,
  writeLotChanges,
  type LotChanges,
  type SqlExpiry,
} from '../lifecycle/lot-sql.js';

/** What one partition actor hands to Postgres in one transaction. COPY payloads are pre-encoded text. */
export interface FlushBatch {
  topic: string;
  partition: number;
  /** consumer_offsets.next_offset this writer believes is stored; the fence. */
  expectedOffset: number;
  /** The offset after the last event included. */
  newOffset: number;
  owner: string;
  /** Rows for staging_deltas: user_id, points delta, earned delta, earned_day, earned_today, last_offset, recent_from, recent_ids (see MERGE_SQL). */
  deltas: string;
  /** Rows for point_transactions (see LEDGER_COLUMNS), COPY text as a string or its UTF-8 bytes. */
  ledger: string | Uint8Array;
  /** UTC days (since 1970) of the ledger rows' event times: their partitions must exist before the COPY. */
  ledgerDays: number[];
  /** Rows for dead_letters (see DEAD_LETTER_COLUMNS). */
  deadLetters: string | Uint8Array;
  /** Refund totals of purchases refunded since the last flush (absolute values). */
  refunds: { userId: string; eventId: string; amountRefunded: number; pointsRefunded: number }[];
  /** Only with a `lifecycle:` block: absent, the flush is exactly what it was without one. */
  lifecycle?: LifecycleFlush;
}

/** The points lifecycle's part of a flush (config/rules.schema.md, "Points lifecycle"). */
export interface LifecycleFlush {
  /** The partition's clock (ms), stored with the offset. */
  clock: number;
  /** Lot rows of the users the actor holds (those it settled so far, and those with events). */
  lots: LotChanges;
  /** consumer_offsets.lifecycle_seq this writer believes is stored: the fence of flushes that move no offset (sql/006). */
  seq: number;
  /**
   * Expire due lots of users the actor does not hold, at the clock: after a midnight passed since the
   * stored clock, and while an earlier flush left some (each flush expires at most `maxExpiryLots`).
   * Only when the actor has settled every held user at the clock (due lots left then are not theirs).
   */
  expireUnheld: boolean;
  /** The bound of expireUnheld: lots (whole users) per flush. */
  maxExpiryLots: number;
  /** rules_versions id for the expire rows written in SQL. */
  rulesVersionId: number;
  /**
   * After a midnight passed since the stored clock, with pending lots: the stored clock, to count the
   * points that became spendable since (a metric; counted by this flush whether or not it expires in SQL).
   */
  countReleasedSince: number | null;
}

export type FlushOutcome =
  | {
      kind: 'committed';
      /** What the flush expired in SQL (users the actor does not hold); absent when it did not run that expiry. */
      expired?: SqlExpiry;
      /** Points released since countReleasedSince; absent when not counted. */
      released?: number;
    }
  | { kind: 'fenced'; storedOffset: number | null };

export const LEDGER_COLUMNS =
  'event_time, kafka_offset, points, balance_after, partition, rules_version_id, event_type, status, user_id, event_id, amount, original_event_id, reason';
export const DEAD_LETTER_COLUMNS = 'topic, partition, kafka_offset, reason, detail, message_key, message_value';

const withStaging = new WeakSet<pg.PoolClient>();

export async function ensureStagingTable(client: pg.PoolClient): Promise<void> {
  if (withStaging.has(client)) return;
  // Session-local and emptied at each commit: no cleanup, no contention between engines.
  await client.query(
    `CREATE TEMP TABLE IF NOT EXISTS staging_deltas (
       user_id text NOT NULL, points bigint NOT NULL, earned bigint NOT NULL,
       earned_day integer NOT NULL, earned_today bigint NOT NULL, last_offset bigint NOT NULL,
       recent_from integer, recent_ids bytea NOT NULL
     ) ON COMMIT DELETE ROWS`,
  );
  withStaging.add(client);
}

async function copyIn(client: pg.PoolClient, sql: string, payload: string | Uint8Array): Promise<void> {
  if (payload.length === 0) return;
  await pipeline(
    Readable.from([typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload]),
    client.query(copyFrom(sql)),
  );
}

// recent_ids (sql/007): the staged entries go before the stored ones when the stored recent_from is the writer's,
// and replace them when it is not (the writer pruned the summary, or built it at load). Before, not after: an
// update on the same page logs only the bytes of the new row that differ from the old row's start and end, and
// recent_ids is the row's last column, so the stored entries are its unchanged end. Appended, the whole summary
// (up to 1 KB) went to the WAL at every flush of the user: 36 % of the WAL in a soak. Entries have no order.
export const MERGE_SQL = `
  INSERT INTO balances AS b (user_id, points, lifetime_earned, earned_day, earned_today, updated_at, last_partition, last_offset, recent_from, recent_ids)
  SELECT user_id, points, earned, earned_day, earned_today, now(), $1, last_offset, recent_from, recent_ids FROM staging_deltas
  ON CONFLICT (user_id) DO UPDATE SET
    recent_ids = CASE WHEN b.recent_from IS NOT DISTINCT FROM EXCLUDED.recent_from THEN EXCLUDED.recent_ids || b.recent_ids ELSE EXCLUDED.recent_ids END,
    recent_from = EXCLUDED.recent_from,
    points = b.points + EXCLUDED.points,
    lifetime_earned = b.lifetime_earned + EXCLUDED.lifetime_earned,
    earned_day = EXCLUDED.earned_day,
    earned_today = EXCLUDED.earned_today,
    updated_at = EXCLUDED.updated_at,
    last_partition = EXCLUDED.last_partition,
    last_offset = EXCLUDED.last_offset`;

/**
 * One commit of a partition actor: fence on the stored offset, COPY the deltas into
 * staging and merge them, COPY the ledger and dead letters, advance the offset.
 * A writer whose expected offset is no longer stored (a stale owner) changes nothing.
 */
export async function flushToPostgres(pool: pg.Pool, batch: FlushBatch): Promise<FlushOutcome> {
  return inTransaction(
    pool,
    async (client) => {
      // First, so the row lock serialises writers of this partition and a fenced writer does no work.
      const lc = batch.lifecycle;
      const fence =
        lc === undefined
          ? await client.query(
              'UPDATE consumer_offsets SET next_offset = $4, owner = $5, updated_at = now() WHERE topic = $1 AND partition = $2 AND next_offset = $3',
              [batch.topic, batch.partition, batch.expectedOffset, batch.newOffset, batch.owner],
            )
          : await client.query(
              `UPDATE consumer_offsets SET next_offset = $4, owner = $5, updated_at = now(),
                 clock = COALESCE('epoch'::timestamptz + $6::bigint * interval '1 millisecond', clock),
                 lifecycle_seq = lifecycle_seq + 1
               WHERE topic = $1 AND partition = $2 AND next_offset = $3 AND lifecycle_seq = $7`,
              // No event applied yet: the clock stays as stored.
              [
                batch.topic,
                batch.partition,
                batch.expectedOffset,
                batch.newOffset,
                batch.owner,
                Number.isFinite(lc.clock) ? lc.clock : null,
                lc.seq,
              ],
            );
      if (fence.rowCount !== 1) {
        // Nothing was written: the (empty) transaction just reads who is ahead.
        const stored = await client.query<{ next_offset: string }>(
          'SELECT next_offset FROM consumer_offsets WHERE topic = $1 AND partition = $2',
          [batch.topic, batch.partition],
        );
        const row = stored.rows[0];
        return { kind: 'fenced', storedOffset: row ? Number(row.next_offset) : null };
      }
      if (batch.deltas.length > 0) {
        await copyIn(
          client,
          'COPY staging_deltas (user_id, points, earned, earned_day, earned_today, last_offset, recent_from, recent_ids) FROM STDIN',
          batch.deltas,
        );
        await client.query(MERGE_SQL, [batch.partition]);
      }
      let expired: SqlExpiry | undefined;
      let released: number | undefined;
      if (lc !== undefined) {
        // The held users' rows first: with every held user settled (expireUnheld is only asked for then),
        // the only lots expired at the clock afterwards are those of users not held.
        await writeLotChanges(client, batch.partition, lc.lots);
        if (lc.expireUnheld)
          expired = await expireDue(client, batch.partition, lc.clock, lc.rulesVersionId, lc.maxExpiryLots);
        if (lc.countReleasedSince !== null)
          released = await releasedPoints(client, batch.partition, lc.countReleasedSince, lc.clock);
      }
      await copyIn(client, `COPY point_transactions (${LEDGER_COLUMNS}) FROM STDIN`, batch.ledger);
      await copyIn(client, `COPY dead_letters (${DEAD_LETTER_COLUMNS}) FROM STDIN`, batch.deadLetters);
      if (batch.refunds.length > 0) {
        const r = batch.refunds;
        await client.query(
          `INSERT INTO purchase_refunds (user_id, event_id, amount_refunded, points_refunded)
           SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::bigint[])
           ON CONFLICT (user_id, event_id) DO UPDATE SET amount_refunded = EXCLUDED.amount_refunded, points_refunded = EXCLUDED.points_refunded`,
          [
            r.map((x) => x.userId),
            r.map((x) => x.eventId),
            r.map((x) => x.amountRefunded),
            r.map((x) => x.pointsRefunded),
          ],
        );
      }
      return {
        kind: 'committed' as const,
        ...(expired !== undefined && { expired }),
        ...(released !== undefined && { released }),
      };
    },
    {
      before: async (client) => {
        await ensureStagingTable(client);
        // Outside the transaction: a partition created here is visible to every engine at once, and its lock is not held through the flush.
        await ensureLedgerPartitions(client, batch.ledgerDays);
        // The days of the expire rows written in SQL (expiry moments are midnights: one day each); a
        // superset of what the bounded expiry writes, found with one index probe per moment.
        const lc = batch.lifecycle;
        if (lc?.expireUnheld === true)
          await ensureLedgerPartitions(client, (await expiringMoments(client, batch.partition, lc.clock)).map(utcDay));
      },
      onError: (e, client) => {
        withStaging.delete(client);
        // Retention dropped a day this thread had seen (a row at its edge): ask Postgres again on the retry.
        if (isMissingPartition(e)) forgetLedgerPartitions();
      },
    },
  );
}
