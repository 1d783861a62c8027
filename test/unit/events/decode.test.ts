import { describe, expect, it } from 'vitest';
import { decodeEvent, parseTimestamp } from '../../../src/events/decode.js';

const at = { topic: 't', partition: 3, offset: 17, key: 'u1' as string | null };
const limits = { maxMessageBytes: 1024, maxAmount: 1_000_000 };
const enc = (v: unknown): Uint8Array => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const ok = {
  event_id: 'e1',
  user_id: 'u1',
  event_type: 'purchase',
  amount: 12.5,
  timestamp: '2026-11-28T10:00:00+02:00',
};

describe('decodeEvent', () => {
  it('decodes a seed-format purchase, keeping the offset of its timestamp', () => {
    const r = decodeEvent(enc(ok), at, limits);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.event).toMatchObject({
      eventId: 'e1',
      userId: 'u1',
      type: 'purchase',
      amount: 12.5,
      utcOffsetMinutes: 120,
    });
    expect(r.event.timestampMs).toBe(Date.UTC(2026, 10, 28, 8, 0, 0));
  });

  it('names the event by topic, partition and offset when event_id is missing', () => {
    const { event_id: _drop, ...rest } = ok;
    const r = decodeEvent(enc(rest), at, limits);
    expect(r.ok && r.event.eventId).toBe('t:3:17');
  });

  it.each([
    ['malformed_json', '{"user_id": "u1"', 'malformed_json'],
    ['not an object', [1, 2], 'invalid_schema'],
    ['unknown type', { ...ok, event_type: 'gift' }, 'unknown_type'],
    ['type missing', { ...ok, event_type: undefined }, 'invalid_schema'],
    ['negative amount', { ...ok, amount: -1 }, 'invalid_amount'],
    ['absurd amount', { ...ok, amount: 1e308 }, 'invalid_amount'],
    ['amount as string', { ...ok, amount: '12' }, 'invalid_amount'],
    ['fractional redeem', { ...ok, event_type: 'redeem', amount: 1.5 }, 'invalid_amount'],
    ['missing user', { ...ok, user_id: undefined }, 'invalid_user_id'],
    ['user id with a space', { ...ok, user_id: 'u 1' }, 'invalid_user_id'],
    ['user id too long', { ...ok, user_id: 'u'.repeat(129) }, 'invalid_user_id'],
    ['year 10000', { ...ok, timestamp: '10000-01-01T00:00:00Z' }, 'invalid_timestamp'],
    ['31 April', { ...ok, timestamp: '2026-04-31T00:00:00Z' }, 'invalid_timestamp'],
    ['no offset', { ...ok, timestamp: '2026-04-01T00:00:00' }, 'invalid_timestamp'],
    ['refund without original', { ...ok, event_type: 'refund' }, 'invalid_schema'],
    ['adjust without reason', { ...ok, event_type: 'adjust', amount: 5 }, 'invalid_schema'],
    // Postgres text cannot hold NUL: accepted, such an id would fail every flush of the partition.
    ['NUL in event_id', { ...ok, event_id: 'a\u0000b' }, 'invalid_schema'],
    ['NUL in original_event_id', { ...ok, event_type: 'refund', original_event_id: 'p\u0000' }, 'invalid_schema'],
  ])('dead-letters %s as %s', (_name, value, reason) => {
    const r = decodeEvent(enc(value), { ...at, key: 'u1' }, limits);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });

  it('dead-letters oversized and empty messages before parsing them', () => {
    const big = decodeEvent(enc({ ...ok, pad: 'x'.repeat(2000) }), at, limits);
    expect(!big.ok && big.reason).toBe('oversized');
    const empty = decodeEvent(null, at, limits);
    expect(!empty.ok && empty.reason).toBe('empty_value');
  });

  it('dead-letters a message whose key is not its user (it would split the user across partitions)', () => {
    const r = decodeEvent(enc(ok), { ...at, key: 'someone-else' }, limits);
    expect(!r.ok && r.reason).toBe('key_mismatch');
    const noKey = decodeEvent(enc(ok), { ...at, key: null }, limits);
    expect(!noKey.ok && noKey.reason).toBe('key_mismatch');
  });

  it('accepts signed whole adjustments with a reason', () => {
    const r = decodeEvent(enc({ ...ok, event_type: 'adjust', amount: -40, reason: 'goodwill reversal' }), at, limits);
    expect(r.ok && r.event.amount).toBe(-40);
  });

  it('rejects invalid UTF-8 as malformed JSON', () => {
    const r = decodeEvent(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), at, limits);
    expect(!r.ok && r.reason).toBe('malformed_json');
  });
});

describe('parseTimestamp', () => {
  it('keeps the local offset, so the local calendar day can be derived', () => {
    expect(parseTimestamp('2026-11-28T23:30:00-05:00')).toEqual({
      ms: Date.UTC(2026, 10, 29, 4, 30),
      micros: 0,
      offsetMinutes: -300,
      postgresReadsAlike: true,
    });
    expect(parseTimestamp('2026-11-28T23:30:00.123Z')).toEqual({
      ms: Date.UTC(2026, 10, 28, 23, 30, 0, 123),
      micros: 0,
      offsetMinutes: 0,
      postgresReadsAlike: true,
    });
  });
  it('rejects impossible fields', () => {
    expect(parseTimestamp('2026-13-01T00:00:00Z')).toBeNull();
    expect(parseTimestamp('2026-02-29T00:00:00Z')).toBeNull();
    expect(parseTimestamp('2026-01-01T24:00:00Z')).toBeNull();
    expect(parseTimestamp('2026-01-01T00:00:00+24:00')).toBeNull();
  });
  it('accepts leap days, fractions of 1-9 digits, lower-case t and z; years before 100 are not read as 19xx', () => {
    expect(parseTimestamp('2024-02-29T00:00:00Z')?.ms).toBe(Date.UTC(2024, 1, 29));
    expect(parseTimestamp('2000-02-29T00:00:00Z')).not.toBeNull();
    expect(parseTimestamp('1900-02-29T00:00:00Z')).toBeNull();
    expect(parseTimestamp('2026-11-28t10:00:00.5z')?.ms).toBe(Date.UTC(2026, 10, 28, 10, 0, 0, 500));
    expect(parseTimestamp('2026-11-28T10:00:00.123456789+01:30')).toEqual({
      ms: Date.UTC(2026, 10, 28, 8, 30, 0, 123),
      micros: 457, // .123456789 s is 123,457 µs as Postgres rounds it
      offsetMinutes: 90,
      postgresReadsAlike: false, // the ledger gets the instant as UTC text with microseconds
    });
    expect(parseTimestamp('2026-11-28T10:00:00.123456Z')?.postgresReadsAlike).toBe(true);
    expect(parseTimestamp('2026-12-31T23:59:60Z')?.postgresReadsAlike).toBe(false);
    // Rounding up a whole millisecond carries into ms: here into the next day, where Postgres stores it too.
    expect(parseTimestamp('2026-03-07T23:59:59.9999995Z')).toEqual({
      ms: Date.UTC(2026, 2, 8),
      micros: 0,
      offsetMinutes: 0,
      postgresReadsAlike: false,
    });
    expect(parseTimestamp('2026-11-28T10:00:00.1234567890Z')).toBeNull();
    expect(parseTimestamp('2026-11-28T10:00:00.Z')).toBeNull();
    expect(parseTimestamp('2026-12-31T23:59:60Z')?.ms).toBe(Date.UTC(2026, 11, 31, 23, 59, 59));
    expect(new Date(parseTimestamp('0050-06-01T00:00:00Z')!.ms).getUTCFullYear()).toBe(50);
  });

  /** The regular-expression parser this one replaced, as an oracle for which strings are valid and what they mean. */
  function reference(
    text: string,
  ): { ms: number; micros: number; offsetMinutes: number; postgresReadsAlike: boolean } | null {
    const m =
      /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(text);
    if (m === null) return null;
    const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
    const year = Number(y),
      month = Number(mo),
      day = Number(d),
      hour = Number(h),
      minute = Number(mi),
      second = Number(s);
    if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
    const localMs = Date.UTC(
      year,
      month - 1,
      day,
      hour,
      minute,
      Math.min(second, 59),
      frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0,
    );
    if (new Date(localMs).getUTCDate() !== day) return null;
    let offsetMinutes = 0;
    if (z === undefined) {
      const oH = Number(oh),
        oM = Number(om);
      if (oH > 23 || oM > 59) return null;
      offsetMinutes = (sign === '-' ? -1 : 1) * (oH * 60 + oM);
    }
    // Microseconds (kept only where the ledger gets other text) by decimal rounding: the fractions below have no ties.
    const n = frac?.length ?? 0;
    const kept = n > 6 || (n > 3 && second === 60);
    const sixth = kept ? Number(frac!.padEnd(9, '0').slice(0, 6)) + (Number(frac![6] ?? '0') >= 5 ? 1 : 0) : 0;
    const micros = kept ? sixth - Number(frac!.slice(0, 3)) * 1000 : 0;
    const postgresReadsAlike = second < 60 && n <= 6;
    return { ms: localMs - offsetMinutes * 60_000, micros, offsetMinutes, postgresReadsAlike };
  }

  it('agrees with the regular-expression parser on 200,000 valid and mutated timestamps (years 1000-9999)', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pad = (v: number, w: number): string => String(v).padStart(w, '0');
    const alphabet = '0123456789-:+TtZz.x ';
    for (let i = 0; i < 200_000; i++) {
      const frac = rnd(3) === 0 ? `.${'7'.repeat(1 + rnd(10))}` : '';
      const off = ['Z', 'z', `+${pad(rnd(26), 2)}:${pad(rnd(62), 2)}`, `-${pad(rnd(24), 2)}:${pad(rnd(60), 2)}`][
        rnd(4)
      ]!;
      let text = `${pad(1000 + rnd(9000), 4)}-${pad(rnd(14), 2)}-${pad(rnd(33), 2)}${rnd(2) ? 'T' : 't'}${pad(rnd(25), 2)}:${pad(rnd(61), 2)}:${pad(rnd(62), 2)}${frac}${off}`;
      if (rnd(3) === 0) {
        const at = rnd(text.length);
        text = rnd(2)
          ? text.slice(0, at) + alphabet[rnd(alphabet.length)]! + text.slice(at + 1)
          : text.slice(0, at) + text.slice(at + 1);
      }
      expect(parseTimestamp(text), text).toEqual(reference(text));
    }
  });

  describe("an adjust's expires_at", () => {
    const adjust = { ...ok, event_type: 'adjust', amount: 5, reason: 'goodwill', timestamp: '2026-11-28T10:00:00Z' };
    it('is decoded when after the timestamp', () => {
      const r = decodeEvent(enc({ ...adjust, expires_at: '2027-01-01T00:00:00+01:00' }), at, limits);
      expect(r.ok && r.event.expiresAtMs).toBe(Date.UTC(2026, 11, 31, 23, 0, 0));
    });
    it('is optional, and ignored on other types', () => {
      const r = decodeEvent(enc(adjust), at, limits);
      expect(r.ok && r.event.expiresAtMs).toBeUndefined();
      const p = decodeEvent(enc({ ...ok, expires_at: 'whenever' }), at, limits);
      expect(p.ok && p.event.expiresAtMs).toBeUndefined();
    });
    it.each([
      ['not a time', 'soon'],
      ['a number', 1_800_000_000_000],
      ['at the timestamp', '2026-11-28T10:00:00Z'],
      ['before it', '2026-11-01T00:00:00Z'],
    ])('is a dead letter when %s', (_name, expires) => {
      const r = decodeEvent(enc({ ...adjust, expires_at: expires }), at, limits);
      expect(r.ok ? 'ok' : r.reason).toBe('invalid_timestamp');
    });
  });
});
