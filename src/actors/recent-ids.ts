import { pgHashTextPair } from '../store/pg-hashtext.js';

const DAY_MS = 86_400_000;
/** No summary yet (NULL in Postgres): checks go to the ledger, and the summary is built when the user is next loaded. */
const NONE = -2147483648;
/** A user with no ledger rows at all and no entries yet: `from` is set by the first entry. */
const FRESH = 2147483647;
/**
 * Too many entries to keep in a balance row (a very busy user): checks go to the ledger, and no
 * summary is built at load. Stored as is in recent_from.
 */
export const RECENT_IDS_OFF = -2147483647;
/** Entries a summary may hold; past it the user's checks go to the ledger (RECENT_IDS_OFF). */
const MAX_ENTRIES = 256;
/** Entries hold the day as an offset of 15 bits. */
const MAX_OFFSET = 32767;

/** A ledger row's 16-bit id hash, as the summary and sql/007 keep it. */
export const idHash = (userId: string, eventId: string): number => pgHashTextPair(userId, eventId) & 0xffff;

/**
 * Each held user's recent event ids (sql/007): one entry per ledger row a duplicate check can find,
 * from the UTC day `from` on, as (day - from) << 16 | 16-bit hash. The summary answers "no earlier
 * occurrence in the window" without Postgres; a hash match, or a window reaching before `from`, is
 * asked of the ledger as before. It is kept in the balance row, so a reloaded user brings it along.
 *
 * One user's first entry lives in a column (most users of a large population have one or two
 * events in the window); more go into an array.
 */
export class RecentIds {
  from = new Int32Array(0);
  private count = new Uint16Array(0);
  private first = new Int32Array(0);
  private more: (number[] | undefined)[] = [];
  /** How many of the entries Postgres holds, under the same `from`. */
  private storedCount = new Uint16Array(0);
  /** 1 when Postgres' summary is not this one's start (built at load, pruned, given up): the next flush writes it whole. */
  private whole = new Uint8Array(0);

  /** A user as loaded: its stored summary, none (a new user: it has no rows), or null (a row without one yet). */
  load(s: number, stored: { from: number | null; ids: Buffer } | undefined): void {
    this.ensure(s);
    this.count[s] = 0;
    this.more[s] = undefined;
    if (stored === undefined) {
      // No balance row, so no ledger rows: every window is known to hold none.
      this.from[s] = FRESH;
      this.storedCount[s] = 0;
      this.whole[s] = 1;
      return;
    }
    this.from[s] = stored.from ?? NONE;
    for (let i = 0; i + 4 <= stored.ids.length; i += 4) this.push(s, stored.ids.readInt32BE(i));
    this.storedCount[s] = this.count[s]!;
    this.whole[s] = 0;
  }

  /** A summary just read from the ledger (see load): Postgres holds none, so the next flush writes it whole. */
  loadBuilt(s: number, from: number, ids: Buffer): void {
    this.load(s, { from, ids });
    this.whole[s] = 1;
  }

  /** Whether the ledger must be asked if the user has this id within `windowMs` of `atMs`. */
  needsLookup(s: number, hash: number, atMs: number, windowMs: number): boolean {
    const from = this.from[s]!;
    if (from === FRESH) return false;
    const lo = Math.floor((atMs - windowMs) / DAY_MS);
    if (from === NONE || from === RECENT_IDS_OFF || lo < from) return true;
    const hi = Math.floor((atMs + windowMs) / DAY_MS) - from;
    const loOff = lo - from;
    const n = this.count[s]!;
    for (let i = 0; i < n; i++) {
      const e = i === 0 ? this.first[s]! : this.more[s]![i - 1]!;
      if ((e & 0xffff) === hash) {
        const off = e >>> 16;
        if (off >= loOff && off <= hi) return true;
      }
    }
    return false;
  }

  /** A ledger row the duplicate check can find was written for this user. */
  add(s: number, hash: number, atMs: number, windowMs: number): void {
    const day = Math.floor(atMs / DAY_MS);
    const keep = keepDays(windowMs);
    if (this.from[s] === FRESH) this.from[s] = day - keep;
    const from = this.from[s]!;
    if (from === NONE || from === RECENT_IDS_OFF) return; // checks go to the ledger
    if (day < from) return; // before what the summary covers: checks there go to the ledger too
    // Half a keep of slack: a prune rewrites the whole summary, so it should be rare.
    if (day - from > Math.min(keep + Math.ceil(keep / 2), MAX_OFFSET)) this.prune(s, day - keep);
    if (this.count[s]! >= MAX_ENTRIES) {
      this.from[s] = RECENT_IDS_OFF;
      this.count[s] = 0;
      this.more[s] = undefined;
      this.whole[s] = 1;
      return;
    }
    this.push(s, ((day - this.from[s]!) << 16) | hash);
  }

  /**
   * The user's columns of staging_deltas: recent_from and the entries Postgres lacks. The same
   * recent_from appends them to the stored ones; a different one (pruned, or built at load)
   * replaces them (see MERGE_SQL).
   */
  flushColumns(s: number): string {
    const whole = this.whole[s] === 1;
    const n = this.count[s]!;
    let hex = '';
    for (let i = whole ? 0 : this.storedCount[s]!; i < n; i++) {
      const e = i === 0 ? this.first[s]! : this.more[s]![i - 1]!;
      hex += (e >>> 0).toString(16).padStart(8, '0');
    }
    const from = this.from[s]!;
    return `${from === NONE || from === FRESH ? '\\N' : from}\t\\\\x${hex}`;
  }

  /** After a commit: Postgres holds what memory does. */
  committed(s: number): void {
    this.storedCount[s] = this.count[s]!;
    this.whole[s] = 0;
  }

  forget(s: number): void {
    this.more[s] = undefined;
    this.count[s] = 0;
  }

  clear(): void {
    this.more = [];
  }

  private push(s: number, e: number): void {
    const n = this.count[s]!;
    if (n === 0) this.first[s] = e;
    else (this.more[s] ??= []).push(e);
    this.count[s] = n + 1;
  }

  /** Moves `from` to `newFrom`, dropping older entries and shifting the rest. */
  private prune(s: number, newFrom: number): void {
    const shift = newFrom - this.from[s]!;
    const n = this.count[s]!;
    const kept: number[] = [];
    for (let i = 0; i < n; i++) {
      const e = i === 0 ? this.first[s]! : this.more[s]![i - 1]!;
      const off = (e >>> 16) - shift;
      if (off >= 0) kept.push((off << 16) | (e & 0xffff));
    }
    this.count[s] = 0;
    this.more[s] = undefined;
    this.from[s] = newFrom;
    this.whole[s] = 1;
    for (const e of kept) this.push(s, e);
  }

  private ensure(s: number): void {
    if (s < this.from.length) return;
    const n = Math.max(1024, this.from.length * 2, s + 1);
    const widen = <T extends Int32Array | Uint16Array | Uint8Array>(old: T, make: (k: number) => T): T => {
      const next = make(n);
      next.set(old);
      return next;
    };
    this.from = widen(this.from, (k) => new Int32Array(k));
    this.count = widen(this.count, (k) => new Uint16Array(k));
    this.first = widen(this.first, (k) => new Int32Array(k));
    this.storedCount = widen(this.storedCount, (k) => new Uint16Array(k));
    this.whole = widen(this.whole, (k) => new Uint8Array(k));
  }
}

/**
 * Days of entries a summary keeps behind its newest: twice the window and a day either side, so
 * that events up to a window (and a day) older than the user's newest are still answered here.
 */
export function keepDays(windowMs: number): number {
  return 2 * Math.ceil(windowMs / DAY_MS) + 2;
}
