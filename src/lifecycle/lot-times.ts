/**
 * When a lot becomes spendable and when it expires, from the rules file's `lifecycle:` block.
 * Both moments are rounded up to midnight UTC so that one day's lots of a user share their
 * times and merge (see config/rules.schema.md, "Points lifecycle").
 */

export const DAY_MS = 86_400_000;

/** The compiled `lifecycle:` block. */
export interface LifecycleSettings {
  /** How long a purchase's points stay pending; 0 = spendable at the purchase's own instant. */
  readonly pendingMs: number;
  /** How long after the purchase its points expire; null = never. */
  readonly expiresAfterMs: number | null;
}

/** A lot that never expires has this expiry (Postgres: 'infinity'::timestamptz). */
export const NEVER = Infinity;

/** The first midnight UTC at or after `ms` (a moment exactly at midnight stays). Exact for whole milliseconds. */
export function ceilToMidnightUtc(ms: number): number {
  const intoDay = ((ms % DAY_MS) + DAY_MS) % DAY_MS; // also right before 1970, where % is negative
  return intoDay === 0 ? ms + 0 : ms - intoDay + DAY_MS;
}

/** When the points of a purchase at `eventMs` become spendable. */
export function purchaseAvailableAt(s: LifecycleSettings, eventMs: number): number {
  return s.pendingMs === 0 ? eventMs : ceilToMidnightUtc(eventMs + s.pendingMs);
}

/** When the points of a purchase (or of an adjust without `expires_at`) at `eventMs` expire; NEVER without `expires_after`. */
export function expiresAt(s: LifecycleSettings, eventMs: number): number {
  return s.expiresAfterMs === null ? NEVER : ceilToMidnightUtc(eventMs + s.expiresAfterMs);
}

/** Expiry of a positive adjust: its own `expires_at` (rounded up like every expiry) when given, else as configured. */
export function adjustExpiresAt(s: LifecycleSettings, eventMs: number, expiresAtMs: number | undefined): number {
  return expiresAtMs === undefined ? expiresAt(s, eventMs) : ceilToMidnightUtc(expiresAtMs);
}
