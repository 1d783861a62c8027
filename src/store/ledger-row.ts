import type { BinaryCopyBuffer } from './copy-binary.js';

/** The ledger's columns in COPY order (fixed-width first, see sql/003); ledgerRow writes them in this order. */
export const LEDGER_COLUMNS =
  'event_time, kafka_offset, points, balance_after, partition, rules_version_id, event_type, status, user_id, event_id, amount, original_event_id, reason';

/**
 * Appends one point_transactions row in binary COPY form. Positional, not an object: it runs for every
 * event, and an object per row was garbage the actor threads collected.
 */
export function ledgerRow(
  out: BinaryCopyBuffer,
  timeMs: number,
  timeMicros: number,
  offset: number,
  points: number,
  balanceAfter: number,
  partition: number,
  rulesVersionId: number,
  eventType: string,
  status: string,
  userId: string,
  eventId: string,
  amount: number | null,
  originalEventId: string | null | undefined,
  reason: string | null,
): void {
  out
    .row(13)
    .timestamp(timeMs, timeMicros)
    .int64(offset)
    .int64(points)
    .int64(balanceAfter)
    .int32(partition)
    .int32(rulesVersionId)
    .text(eventType)
    .text(status)
    .text(userId)
    .text(eventId);
  if (amount === null) out.null();
  else out.numeric(amount);
  out.textOrNull(originalEventId).textOrNull(reason);
}
