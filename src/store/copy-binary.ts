/**
 * Rows for PostgreSQL's binary COPY format, written field by field into one reusable buffer.
 * The ledger goes this way: Postgres takes a binary row without parsing text (about 0.45 µs a
 * row less, docs/performance.md), and the actor builds no string per row.
 * Layout: a 19-byte header, per row an int16 field count and per field an int32 length (-1 for
 * NULL) and its bytes, then an int16 -1 trailer.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER_BYTES = SIGNATURE.length + 8; // flags and header-extension length, both 0
// 2000-01-01T00:00:00Z, Postgres' epoch for timestamps.
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;
const MAX_EXACT_MS = Math.floor(Number.MAX_SAFE_INTEGER / 1000) - 1;

export class BinaryCopyBuffer {
  private buf: Buffer;
  private used = HEADER_BYTES;
  private rows = 0;
  private sealed = false;

  constructor(private readonly initialBytes = 64 * 1024) {
    this.buf = BinaryCopyBuffer.withHeader(initialBytes);
  }

  get rowCount(): number {
    return this.rows;
  }

  /** Starts a row of `fields` columns; the caller then writes exactly that many. */
  row(fields: number): this {
    // bytes() wrote the trailer past the rows: a row now would change a payload that may still be sent.
    if (this.sealed) throw new Error('BinaryCopyBuffer: a row after bytes() and before reset()');
    this.room(2);
    this.buf.writeInt16BE(fields, this.used);
    this.used += 2;
    this.rows++;
    return this;
  }

  int32(v: number): this {
    if (!Number.isInteger(v)) throw new RangeError(`int4 field: ${v} is not a whole number`);
    this.room(8);
    this.buf.writeInt32BE(4, this.used);
    this.buf.writeInt32BE(v, this.used + 4);
    this.used += 8;
    return this;
  }

  /** A whole number within ±2^53 as an int8 (written as two 32-bit halves: no BigInt per value). */
  int64(v: number): this {
    // Text COPY refused such a value loudly; so does this, before anything is sent.
    if (!Number.isSafeInteger(v)) throw new RangeError(`int8 field: ${v} is not a whole number within ±2^53`);
    this.room(12);
    const high = Math.floor(v / TWO_32);
    this.buf.writeInt32BE(8, this.used);
    this.buf.writeInt32BE(high, this.used + 4);
    this.buf.writeUInt32BE(v - high * TWO_32, this.used + 8);
    this.used += 12;
    return this;
  }

  /** A timestamptz from epoch milliseconds and the microseconds past them. */
  timestamp(ms: number, micros = 0): this {
    const sinceEpoch = ms - PG_EPOCH_MS;
    if (Math.abs(sinceEpoch) < MAX_EXACT_MS) return this.int64(sinceEpoch * 1000 + micros);
    // Beyond about 285 years from 2000, microseconds exceed 2^53: exact through BigInt (only such far dates pay for it).
    this.room(12);
    this.buf.writeInt32BE(8, this.used);
    this.buf.writeBigInt64BE(BigInt(sinceEpoch) * 1000n + BigInt(micros), this.used + 4);
    this.used += 12;
    return this;
  }

  /**
   * Text, or an enum's label (binary enums are their labels). The text must hold no NUL, which Postgres refuses:
   * ids are checked at decode and reasons are the engine's own (text COPY replaced NUL; nothing here needs it).
   */
  text(v: string): this {
    this.room(4 + v.length * 3);
    const n = this.buf.write(v, this.used + 4, 'utf8');
    this.buf.writeInt32BE(n, this.used);
    this.used += 4 + n;
    return this;
  }

  textOrNull(v: string | null | undefined): this {
    return v === null || v === undefined ? this.null() : this.text(v);
  }

  /** A numeric with the digits and scale of the number's shortest decimal form, as text COPY of String(v) stores it. */
  numeric(v: number): this {
    const d = numericDigits(v);
    this.room(4 + 8 + 2 * d.groups.length);
    this.buf.writeInt32BE(8 + 2 * d.groups.length, this.used);
    this.buf.writeInt16BE(d.groups.length, this.used + 4);
    this.buf.writeInt16BE(d.weight, this.used + 6);
    this.buf.writeUInt16BE(d.negative ? 0x4000 : 0, this.used + 8);
    this.buf.writeInt16BE(d.scale, this.used + 10);
    let at = this.used + 12;
    for (const g of d.groups) {
      this.buf.writeInt16BE(g, at);
      at += 2;
    }
    this.used = at;
    return this;
  }

  null(): this {
    this.room(4);
    this.buf.writeInt32BE(-1, this.used);
    this.used += 4;
    return this;
  }

  /** The COPY payload (header, rows, trailer), or empty without rows: a view, valid until reset (no row may be added before). */
  bytes(): Buffer {
    if (this.rows === 0) return this.buf.subarray(0, 0);
    this.sealed = true;
    this.room(2);
    this.buf.writeInt16BE(-1, this.used);
    return this.buf.subarray(0, this.used + 2);
  }

  /** Empties the buffer for the next flush; gives back memory a burst left behind. */
  reset(): void {
    this.used = HEADER_BYTES;
    this.rows = 0;
    this.sealed = false;
    if (this.buf.length > 16 * 1024 * 1024) this.buf = BinaryCopyBuffer.withHeader(this.initialBytes);
  }

  private room(bytes: number): void {
    if (this.used + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.used + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }

  private static withHeader(bytes: number): Buffer {
    const b = Buffer.allocUnsafe(Math.max(bytes, HEADER_BYTES + 64));
    SIGNATURE.copy(b, 0);
    b.writeInt32BE(0, SIGNATURE.length);
    b.writeInt32BE(0, SIGNATURE.length + 4);
    return b;
  }
}

export interface NumericDigits {
  negative: boolean;
  /** Base-10000 digits, most significant first, without leading or trailing zero groups. */
  groups: number[];
  /** Power of 10000 of the first group. */
  weight: number;
  /** Decimal digits after the point. */
  scale: number;
}

/** A finite number's shortest decimal form (as String gives it, exponent included) in Postgres' numeric layout. */
export function numericDigits(v: number): NumericDigits {
  if (!Number.isFinite(v)) throw new RangeError(`numeric: ${v} is not finite`);
  const text = String(Math.abs(v));
  const e = text.indexOf('e');
  const mantissa = e < 0 ? text : text.slice(0, e);
  const exponent = e < 0 ? 0 : Number(text.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  // Decimal digits before the point: may be zero or negative (0.00x), or beyond the digits (1e+21).
  const point = (dot < 0 ? mantissa.length : dot) + exponent;
  const scale = Math.max(0, digits.length - point);
  // Pad left so the point falls on a group boundary, right to whole groups.
  const padLeft = (((4 - point) % 4) + 4) % 4;
  const padded = '0'.repeat(padLeft) + digits;
  const padRight = (4 - (padded.length % 4)) % 4;
  const all = padded + '0'.repeat(padRight);
  const groups: number[] = [];
  for (let i = 0; i < all.length; i += 4) groups.push(Number(all.slice(i, i + 4)));
  let weight = (point + padLeft) / 4 - 1;
  let first = 0;
  while (first < groups.length && groups[first] === 0) {
    first++;
    weight--;
  }
  let last = groups.length;
  while (last > first && groups[last - 1] === 0) last--;
  const kept = groups.slice(first, last);
  return kept.length === 0
    ? { negative: false, groups: [], weight: 0, scale }
    : { negative: v < 0, groups: kept, weight, scale };
}
