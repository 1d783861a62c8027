import { EVENT_TYPES, USER_ID, USER_ID_RULE, type EventType, type LineItem, type LoyaltyEvent } from './event.js';
import { errorText } from '../errors.js';

/** Why a message went to the dead letters; also the `reason` label of the counter. */
export type DeadLetterReason =
  | 'oversized'
  | 'empty_value'
  | 'malformed_json'
  | 'invalid_schema'
  | 'unknown_type'
  | 'invalid_user_id'
  | 'key_mismatch'
  | 'invalid_amount'
  | 'invalid_timestamp'
  | 'unknown_purchase'
  // Decided by the actor, not the decoder: an event whose ledger row retention would not keep, or a refund too late.
  | 'event_too_old'
  | 'event_too_far_ahead'
  | 'refund_window_passed'
  // Recorded when a partition opens: stored offsets the topic's retention deleted before they were applied.
  | 'deleted_by_retention';

export type DecodeResult = { ok: true; event: LoyaltyEvent } | { ok: false; reason: DeadLetterReason; detail: string };

export interface DecodeLimits {
  maxMessageBytes: number;
  /** Amounts must be strictly below this. */
  maxAmount: number;
}

export interface MessageCoordinates {
  topic: string;
  partition: number;
  offset: number;
  /** The Kafka key as text, or null when the message has none. */
  key: string | null;
}

const TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);
const utf8 = new TextDecoder('utf-8', { fatal: true });

const fail = (reason: DeadLetterReason, detail: string): DecodeResult => ({ ok: false, reason, detail });

/** The value of n ASCII digits at text[at..at+n), or -1 if any is not a digit. */
function digits(text: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Parses an RFC 3339 timestamp strictly (calendar-valid, offset kept): YYYY-MM-DDTHH:MM:SS, optional
 * fraction of 1-9 digits, then Z or +HH:MM / -HH:MM. Returns null when invalid. Read character by
 * character: it runs for every event, and the regular expression it replaces allocated 12 strings.
 */
export function parseTimestamp(
  text: string,
): { ms: number; micros: number; offsetMinutes: number; postgresReadsAlike: boolean } | null {
  if (text.length < 20 || text.length > 35) return null;
  const year = digits(text, 0, 4),
    month = digits(text, 5, 2),
    day = digits(text, 8, 2);
  const hour = digits(text, 11, 2),
    minute = digits(text, 14, 2),
    second = digits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return null;
  const t = text.charCodeAt(10);
  if (text[4] !== '-' || text[7] !== '-' || (t !== 84 && t !== 116) || text[13] !== ':' || text[16] !== ':')
    return null;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return null;
  let at = 19;
  let millis = 0;
  let micros = 0;
  let fractionDigits = 0;
  if (text[at] === '.') {
    const start = ++at;
    while (at < text.length && at - start < 10 && digits(text, at, 1) >= 0) at++;
    const n = at - start;
    if (n < 1 || n > 9) return null;
    fractionDigits = n;
    // Milliseconds: the first three digits, padded.
    millis = digits(text, start, Math.min(3, n)) * (n === 1 ? 100 : n === 2 ? 10 : 1);
    // The microseconds past the milliseconds, only where the ledger gets other text (see postgresReadsAlike), rounded
    // as Postgres rounds the fraction (rint of it as a double times 10^6). Rounding up to the next millisecond carries
    // into ms, so the ledger row's day is the day of ms.
    if (n > 6 || (n > 3 && second === 60))
      micros = roundHalfEven(Number(text.slice(start - 1, at)) * 1e6) - millis * 1000;
    if (micros === 1000) {
      millis++;
      micros = 0;
    }
  }
  let offsetMinutes = 0;
  const z = text[at];
  if (z === 'Z' || z === 'z') {
    if (at + 1 !== text.length) return null;
  } else if (z === '+' || z === '-') {
    if (at + 6 !== text.length || text[at + 3] !== ':') return null;
    const oH = digits(text, at + 1, 2),
      oM = digits(text, at + 4, 2);
    if (oH < 0 || oM < 0 || oH > 23 || oM > 59) return null;
    offsetMinutes = (z === '-' ? -1 : 1) * (oH * 60 + oM);
  } else {
    return null;
  }
  // A leap second (:60) counts as :59 of the same minute. Date.UTC reads years 0-99 as 1900-1999:
  // shift by 400 years (exactly 146,097 days) and back.
  const shift = year < 100 ? 400 : 0;
  const localMs =
    Date.UTC(year + shift, month - 1, day, hour, minute, Math.min(second, 59), millis) -
    (shift ? 146_097 * 86_400_000 : 0);
  // Postgres reads a leap second as the next minute's :00, and rounds a fraction finer than microseconds (into the
  // next day, or refusing ":60.5" outright): such a text would not be stored as the instant read here.
  const postgresReadsAlike = second < 60 && fractionDigits <= 6;
  return { ms: localMs - offsetMinutes * 60_000, micros, offsetMinutes, postgresReadsAlike };
}

/** An instant as RFC 3339 text in UTC with microseconds, which Postgres reads exactly. */
function utcText(ms: number, micros: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}

/** C's rint in the default rounding mode: to the nearest integer, ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function optionalString(o: Record<string, unknown>, field: string, max = 256): string | undefined | null {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  // Postgres text cannot hold NUL: such an id would fail every flush of the partition.
  if (typeof v !== 'string' || v.length === 0 || v.length > max || v.includes('\u0000')) return null;
  return v;
}

function decodeItems(v: unknown, maxAmount: number): LineItem[] | undefined | null {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length === 0 || v.length > 1000) return null;
  const items: LineItem[] = [];
  for (const raw of v) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
    const it = raw as Record<string, unknown>;
    const amount = it.amount;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0 || amount >= maxAmount) return null;
    const category = optionalString(it, 'category');
    const sku = optionalString(it, 'sku');
    if (category === null || sku === null) return null;
    items.push({ amount, ...(category !== undefined && { category }), ...(sku !== undefined && { sku }) });
  }
  return items;
}

/**
 * Turns one Kafka message into an event, or says precisely why it cannot be one.
 * Never throws: every input ends as an event or a dead letter.
 */
export function decodeEvent(value: Uint8Array | null, at: MessageCoordinates, limits: DecodeLimits): DecodeResult {
  if (value === null || value.length === 0) return fail('empty_value', 'message has no value');
  if (value.length > limits.maxMessageBytes)
    return fail('oversized', `${value.length} bytes > ${limits.maxMessageBytes}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(value));
  } catch (e) {
    return fail('malformed_json', errorText(e, 200));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return fail('invalid_schema', 'not a JSON object');
  const o = parsed as Record<string, unknown>;

  const type = o.event_type;
  if (typeof type !== 'string') return fail('invalid_schema', 'event_type must be a string');
  if (!TYPES.has(type))
    return fail('unknown_type', `event_type "${type.slice(0, 64)}" is not one of ${EVENT_TYPES.join(', ')}`);

  const userId = o.user_id;
  if (typeof userId !== 'string' || !USER_ID.test(userId)) return fail('invalid_user_id', USER_ID_RULE);
  // Keys decide partitions, and partitions decide who owns a user's balance: a mismatch would split a user across owners.
  if (at.key !== userId)
    return fail(
      'key_mismatch',
      `Kafka key ${at.key === null ? 'is missing' : `"${at.key.slice(0, 64)}"`} but user_id is "${userId}"`,
    );

  const amount = o.amount;
  if (typeof amount !== 'number' || !Number.isFinite(amount))
    return fail('invalid_amount', 'amount must be a finite number');
  if (type === 'adjust') {
    if (!Number.isInteger(amount) || Math.abs(amount) >= limits.maxAmount)
      return fail('invalid_amount', `adjust amount must be a whole number with |amount| < ${limits.maxAmount}`);
  } else {
    if (amount < 0 || amount >= limits.maxAmount)
      return fail('invalid_amount', `amount must be >= 0 and < ${limits.maxAmount}`);
    if (type === 'redeem' && !Number.isInteger(amount))
      return fail('invalid_amount', 'redeem amount is points: a whole number');
  }

  const timestamp = o.timestamp;
  if (typeof timestamp !== 'string') return fail('invalid_timestamp', 'timestamp must be an RFC 3339 string');
  const ts = parseTimestamp(timestamp);
  if (ts === null) return fail('invalid_timestamp', `"${timestamp.slice(0, 64)}" is not a valid RFC 3339 timestamp`);

  const eventIdRaw = optionalString(o, 'event_id');
  if (eventIdRaw === null) return fail('invalid_schema', 'event_id must be a string of 1-256 characters without NUL');
  const category = optionalString(o, 'category');
  const sku = optionalString(o, 'sku');
  if (category === null || sku === null)
    return fail('invalid_schema', 'category and sku must be strings of 1-256 characters without NUL');
  const items = decodeItems(o.items, limits.maxAmount);
  if (items === null) return fail('invalid_schema', 'items must be a non-empty array of {amount, category?, sku?}');

  const event: LoyaltyEvent = {
    eventId: eventIdRaw ?? `${at.topic}:${at.partition}:${at.offset}`,
    eventIdGiven: eventIdRaw !== undefined,
    userId,
    type: type as EventType,
    amount,
    timestamp: ts.postgresReadsAlike ? timestamp : utcText(ts.ms, ts.micros),
    timestampMs: ts.ms,
    utcOffsetMinutes: ts.offsetMinutes,
  };
  if (category !== undefined) event.category = category;
  if (sku !== undefined) event.sku = sku;
  if (items !== undefined) event.items = items;
  if (type === 'refund') {
    const original = optionalString(o, 'original_event_id');
    if (typeof original !== 'string') return fail('invalid_schema', 'refund needs original_event_id');
    event.originalEventId = original;
  }
  if (type === 'adjust') {
    const reason = optionalString(o, 'reason', 1000);
    if (typeof reason !== 'string') return fail('invalid_schema', 'adjust needs a reason');
    event.reason = reason;
    const expires = o.expires_at;
    if (expires !== undefined && expires !== null) {
      const e = typeof expires === 'string' ? parseTimestamp(expires) : null;
      if (e === null) return fail('invalid_timestamp', 'expires_at must be an RFC 3339 string');
      // Points that expire before they are granted mean a mistake; and a later expiry keeps the adjust's
      // own expire row (if it is late) at another event time than the adjust's row (the ledger's key).
      if (e.ms <= ts.ms) return fail('invalid_timestamp', 'expires_at must be after timestamp');
      event.expiresAtMs = e.ms;
    }
  }
  return { ok: true, event };
}
