import { describe, expect, it } from 'vitest';
import {
  adjustExpiresAt,
  ceilToMidnightUtc,
  expiresAt,
  purchaseAvailableAt,
  NEVER,
} from '../../../src/lifecycle/lot-times.js';

const at = (iso: string): number => Date.parse(iso);
const DAY = 86_400_000;

describe('lot times', () => {
  it('rounds up to the next midnight UTC; a moment exactly at midnight stays', () => {
    expect(ceilToMidnightUtc(at('2026-03-10T00:00:00Z'))).toBe(at('2026-03-10T00:00:00Z'));
    expect(ceilToMidnightUtc(at('2026-03-10T00:00:00.001Z'))).toBe(at('2026-03-11T00:00:00Z'));
    expect(ceilToMidnightUtc(at('2026-03-10T23:59:59.999Z'))).toBe(at('2026-03-11T00:00:00Z'));
    // Before 1970 the remainder is negative; the rounding must still go up.
    expect(ceilToMidnightUtc(at('1969-12-31T12:00:00Z'))).toBe(0);
    expect(Object.is(ceilToMidnightUtc(-0), 0)).toBe(true);
  });

  it('a purchase is available after the pending period, rounded up; with pending 0 at its own instant', () => {
    const t = at('2026-03-10T15:30:00Z');
    expect(purchaseAvailableAt({ pendingMs: 14 * DAY, expiresAfterMs: null }, t)).toBe(at('2026-03-25T00:00:00Z'));
    expect(purchaseAvailableAt({ pendingMs: 0, expiresAfterMs: null }, t)).toBe(t);
    expect(purchaseAvailableAt({ pendingMs: 8.5 * 3_600_000, expiresAfterMs: null }, t)).toBe(
      at('2026-03-11T00:00:00Z'),
    );
    expect(purchaseAvailableAt({ pendingMs: DAY, expiresAfterMs: null }, at('2026-03-10T00:00:00Z'))).toBe(
      at('2026-03-11T00:00:00Z'),
    );
  });

  it('expiry is the purchase time plus expires_after, rounded up; never without it', () => {
    const t = at('2026-03-10T15:30:00Z');
    expect(expiresAt({ pendingMs: 0, expiresAfterMs: 365 * DAY }, t)).toBe(at('2027-03-11T00:00:00Z'));
    expect(expiresAt({ pendingMs: 0, expiresAfterMs: null }, t)).toBe(NEVER);
  });

  it("an adjust's own expires_at is rounded up like any expiry, and wins over the configured one", () => {
    const s = { pendingMs: 0, expiresAfterMs: 365 * DAY };
    const t = at('2026-03-10T15:30:00Z');
    expect(adjustExpiresAt(s, t, at('2026-04-01T09:00:00Z'))).toBe(at('2026-04-02T00:00:00Z'));
    expect(adjustExpiresAt(s, t, undefined)).toBe(at('2027-03-11T00:00:00Z'));
    expect(adjustExpiresAt({ pendingMs: 0, expiresAfterMs: null }, t, at('2026-04-01T00:00:00Z'))).toBe(
      at('2026-04-01T00:00:00Z'),
    );
  });
});
