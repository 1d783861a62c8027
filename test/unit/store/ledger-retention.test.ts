import { describe, expect, it } from 'vitest';
import { DAY_MS, partitionName, utcDay } from '../../../src/store/ledger-partitions.js';
import { retentionProblem } from '../../../src/store/ledger-retention.js';

describe('retention against the windows it must cover', () => {
  const windows = { idempotencyWindowMs: 7 * DAY_MS, refundWindowMs: 90 * DAY_MS };

  it('accepts a retention at least as long as both windows', () => {
    expect(retentionProblem(90 * DAY_MS, windows)).toBeNull();
    expect(retentionProblem(365 * DAY_MS, windows)).toBeNull();
  });

  it('names LEDGER_RETENTION and the window it is shorter than', () => {
    const e = retentionProblem(30 * DAY_MS, windows);
    expect(e).toMatch(/^LEDGER_RETENTION \(30d\) is shorter than the rules file's refund_window \(90d\)/);
    expect(e).not.toMatch(/idempotency_window/);
  });

  it('names both windows when it is shorter than both', () => {
    expect(retentionProblem(DAY_MS, windows)).toMatch(
      /LEDGER_RETENTION \(1d\) .*idempotency_window \(7d\) and refund_window \(90d\)/,
    );
  });
});

describe('daily partitions', () => {
  it('are named for their UTC day, whatever the offset an event was sent with', () => {
    expect(partitionName(utcDay(Date.parse('2026-11-28T23:30:00-05:00')))).toBe('point_transactions_20261129');
    expect(partitionName(utcDay(Date.parse('2026-01-01T00:00:00Z')))).toBe('point_transactions_20260101');
    expect(partitionName(utcDay(Date.parse('2025-12-31T23:59:59.999Z')))).toBe('point_transactions_20251231');
  });
});
