const DAY_MS = 86_400_000;

export const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type DayName = (typeof DAY_NAMES)[number];

/**
 * The event's calendar day in its own UTC offset, as days since 1970-01-01.
 * Arithmetic instead of `new Date(...)` so the hot path allocates nothing.
 */
export function localDayNumber(timestampMs: number, utcOffsetMinutes: number): number {
  return Math.floor((timestampMs + utcOffsetMinutes * 60_000) / DAY_MS);
}

/** 0 = Sunday ... 6 = Saturday, like Date#getUTCDay (1970-01-01 was a Thursday). */
export function dayOfWeek(dayNumber: number): number {
  return (((dayNumber + 4) % 7) + 7) % 7;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** "2026-11-27" -> days since 1970-01-01, or null when not a real calendar date. */
export function isoDateToDayNumber(text: string): number | null {
  const m = ISO_DATE.exec(text);
  if (m === null) return null;
  const y = Number(m[1]),
    mo = Number(m[2]),
    d = Number(m[3]);
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  // Date.UTC rolls 31 April over to 1 May: treat that as invalid rather than guess.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return ms / DAY_MS;
}
