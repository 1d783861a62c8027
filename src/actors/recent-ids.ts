import { pgHashTextPair } from '../store/pg-hashtext.js';
import { DAY_MS, utcDay } from '../store/ledger-partitions.js';
import { widened, type TypedColumn } from './typed-column.js';

/** No summary yet (NULL in Postgres): checks go to the ledger, and the summary is built when the user is next loaded. */
const NONE = -2147483648;
/** A user with no ledger rows at all and no entries yet: `from` is set by the first entry. */
const FRESH = 2147483647;
/**
 * recent_from of a user with too many entries for its balance row (a very busy user): when loaded
 * again, its summary is read from the ledger (as for NONE) and lives in memory only.
 */
export const RECENT_IDS_OFF = -2147483647;
/** Entries a balance row holds at most (1 KB); past it the summary lives on in memory only, while the user is held. */
const MAX_STORED = 256;
/** Entries kept in memory for one user at most; past it its checks go to the ledger. */
const MAX_IN_MEMORY = 262_144;
/** RECENT_IDS_BUSY_MB's default, in bytes (src/config/env.ts takes it from here). */
export const DEFAULT_BUSY_BYTES = 64 * 1024 * 1024;
/** Why a user's summary was given up (loyalty_recent_ids_given_up_total's reasons). */
export const GIVE_UP_REASONS = ['memory_budget', 'user_limit', 'window_too_long'] as const;
export type GiveUpReason = (typeof GIVE_UP_REASONS)[number];
/**
 * Entries hold the day as an offset of 7 bits (so that they stay positive int32s): summaries whose
 * keep and prune slack pass it (an idempotency_window over 27 days) are not kept.
 */
export const MAX_DAY_OFFSET = 127;
const HASH_MASK = 0xffffff;

/** A ledger row's 24-bit id hash, as the summary and sql/007 keep it. */
export const idHash = (userId: string, eventId: string): number => pgHashTextPair(userId, eventId) & HASH_MASK;

/**
 * Each held user's recent event ids (sql/007): one entry per ledger row a duplicate check can find,
 * from the UTC day `from` on, as (day - from) << 24 | 24-bit hash. The summary answers "no earlier
 * occurrence in the window" without Postgres; a hash match, or a window reaching before `from`, is
 * asked of the ledger as before. It is kept in the balance row, so a reloaded user brings it along.
 *
 * One user's first entry lives in a column (most users of a large population have one or two
 * events in the window); more go into a typed array of the user's own (4 bytes an entry, nothing
 * for the garbage collector to trace).
 */
export class RecentIds {
  from = new Int32Array(0);
  private count = new Uint32Array(0);
  private first = new Int32Array(0);
  /** Entries 1..count-1, with room to grow (its length is the capacity). */
  private more: (Int32Array | undefined)[] = [];
  /**
   * For users past MAX_STORED entries: the entries again, in an open-addressing table by hash
   * (entry | 0x80000000, 0 = empty), so that a busy user's check does not scan them all.
   */
  private tables: (Int32Array | undefined)[] = [];
  /** How many of the entries Postgres holds, under the same `from`. */
  private storedCount = new Uint16Array(0);
  /** 1 when Postgres' summary is not this one's start (built at load, pruned, given up): the next flush writes it whole. */
  private whole = new Uint8Array(0);
  /** 1 for a user past MAX_STORED: Postgres holds RECENT_IDS_OFF, memory the summary. */
  private memoryOnly = new Uint8Array(0);
  /** Bytes of memory-only users' lists (entries and tables), against busyBytes. */
  memoryOnlyBytes = 0;
  /** Summaries given up since the last takeGivenUp, by reason. */
  private givenUp: Partial<Record<GiveUpReason, number>> = {};
  /** The day offsets of scan's matches. */
  private matchLo = 0;
  private matchHi = 0;

  /**
   * @param busyBytes memory for busy users' summaries (past MAX_STORED entries, which Postgres cannot hold): past it
   * a busy user gives its summary up, and its checks read the ledger's whole window, which costs Postgres far more
   * than these bytes cost the engine. Bounds memory when many users are busy at once.
   */
  constructor(private readonly busyBytes = DEFAULT_BUSY_BYTES) {}

  /** Summaries given up since the last call, by reason (for the main thread's counter). */
  takeGivenUp(): Partial<Record<GiveUpReason, number>> {
    const g = this.givenUp;
    this.givenUp = {};
    return g;
  }

  /** A user as loaded: its stored summary, none (a new user: it has no rows), or null (a row without one yet). */
  load(s: number, stored: { from: number | null; ids: Buffer } | undefined): void {
    this.ensure(s);
    this.release(s);
    this.count[s] = 0;
    this.dropLists(s);
    if (stored === undefined) {
      // No balance row, so no ledger rows: every window is known to hold none.
      this.from[s] = FRESH;
      this.storedCount[s] = 0;
      this.whole[s] = 1;
      return;
    }
    this.from[s] = stored.from ?? NONE;
    const n = stored.ids.length >> 2;
    if (n > MAX_IN_MEMORY) {
      this.giveUp(s, 'user_limit');
      return;
    }
    if (n > 0) this.first[s] = stored.ids.readInt32BE(0);
    if (n > 1) {
      const more = new Int32Array(n - 1 + 2);
      for (let i = 1; i < n; i++) more[i - 1] = stored.ids.readInt32BE(i * 4);
      this.more[s] = more;
    }
    this.count[s] = n;
    if (n > TABLE_FROM) this.buildTable(s);
    // Only a summary read from the ledger can be this large (Postgres keeps at most MAX_STORED entries).
    if (n > MAX_STORED) {
      this.memoryOnly[s] = 1;
      this.memoryOnlyBytes += this.listBytes(s);
      if (this.memoryOnlyBytes > this.busyBytes) this.giveUp(s, 'memory_budget');
    }
    this.storedCount[s] = Math.min(n, MAX_STORED);
    this.whole[s] = 0;
  }

  /** A summary just read from the ledger (see load): Postgres holds none, so the next flush writes it whole. */
  loadBuilt(s: number, from: number, ids: Buffer): void {
    this.load(s, { from, ids });
    this.whole[s] = 1;
  }

  /**
   * Where the ledger must be asked whether the user has this id within `windowMs` of `atMs`: nowhere (null: the
   * summary proves there is none), the whole window ('window': no summary, or the window reaches before it), or
   * only the UTC days [first, last] of the window's entries with this hash. The summary holds an entry for every
   * row from its first day on, so a row with this id inside the window lies on one of those days: reading them
   * (a partition or two) instead of the window's fifteen is the same answer.
   */
  lookupDays(s: number, hash: number, atMs: number, windowMs: number): [number, number] | 'window' | null {
    const from = this.from[s]!;
    if (from === FRESH) return null;
    const lo = utcDay(atMs - windowMs);
    if (from === NONE || from === RECENT_IDS_OFF || lo < from) return 'window';
    return this.matchedDays(s, hash, lo - from, utcDay(atMs + windowMs) - from);
  }

  /**
   * The UTC days [first, last] of the entries with this hash (the days a ledger row with this id may lie on), or
   * null when there is none or no summary. Not a proof of absence before `from`: only where to look first.
   */
  daysOf(s: number, hash: number): [number, number] | null {
    const from = this.from[s]!;
    if (from === FRESH || from === NONE || from === RECENT_IDS_OFF) return null;
    return this.matchedDays(s, hash, 0, MAX_DAY_OFFSET);
  }

  /** The UTC days [first, last] of the entries with this hash at day offsets [loOff, hiOff], or null: none there. */
  private matchedDays(s: number, hash: number, loOff: number, hiOff: number): [number, number] | null {
    const from = this.from[s]!;
    return this.scan(s, hash, loOff, hiOff, true) ? [from + this.matchLo, from + this.matchHi] : null;
  }

  /** Whether an entry with this hash lies at day offsets [loOff, hiOff]; with `all`, their range in matchLo/matchHi. */
  private scan(s: number, hash: number, loOff: number, hiOff: number, all: boolean): boolean {
    this.matchLo = MAX_DAY_OFFSET;
    this.matchHi = -1;
    const table = this.tables[s];
    if (table !== undefined) {
      const mask = table.length - 1;
      for (let i = hash & mask; table[i] !== 0; i = (i + 1) & mask)
        if (this.match(table[i]! & 0x7fffffff, hash, loOff, hiOff) && !all) return true;
    } else {
      const n = this.count[s]!;
      for (let i = 0; i < n; i++) if (this.match(this.entryAt(s, i), hash, loOff, hiOff) && !all) return true;
    }
    return this.matchHi >= 0;
  }

  /** A method, not a closure: the duplicate check runs per event. */
  private match(e: number, hash: number, loOff: number, hiOff: number): boolean {
    if ((e & HASH_MASK) !== hash) return false;
    const off = e >>> 24;
    if (off < loOff || off > hiOff) return false;
    if (off < this.matchLo) this.matchLo = off;
    if (off > this.matchHi) this.matchHi = off;
    return true;
  }

  /** A ledger row the duplicate check can find was written for this user. */
  add(s: number, hash: number, atMs: number, windowMs: number): void {
    const day = utcDay(atMs);
    const keep = keepDays(windowMs);
    if (this.from[s] === FRESH) this.from[s] = day - keep;
    const from = this.from[s]!;
    if (from === NONE || from === RECENT_IDS_OFF) return; // checks go to the ledger
    if (day < from) return; // before what the summary covers: checks there go to the ledger too
    // Half a keep of slack: a prune rewrites the whole summary, so it should be rare.
    const span = keep + Math.ceil(keep / 2);
    if (span > MAX_DAY_OFFSET) {
      // A window too long for the entries' day offsets: no summary, the ledger answers.
      this.giveUp(s, 'window_too_long');
      return;
    }
    if (day - from > span) this.prune(s, day - keep);
    const n = this.count[s]!;
    if (n >= MAX_STORED && this.memoryOnly[s] === 0) {
      // Too large for the balance row, which the merge rewrites at every flush: Postgres gets RECENT_IDS_OFF.
      this.memoryOnly[s] = 1;
      this.whole[s] = 1;
      this.memoryOnlyBytes += this.listBytes(s);
    }
    if (n >= MAX_IN_MEMORY) {
      this.giveUp(s, 'user_limit');
      return;
    }
    if (this.memoryOnly[s] === 1 && this.memoryOnlyBytes >= this.busyBytes) {
      this.giveUp(s, 'memory_budget');
      return;
    }
    this.push(s, ((day - this.from[s]!) << 24) | hash);
  }

  /**
   * The user's columns of staging_deltas: recent_from and the entries Postgres lacks. The same
   * recent_from appends them to the stored ones; a different one (pruned, or built at load)
   * replaces them (see MERGE_SQL).
   */
  flushColumns(s: number): string {
    if (this.memoryOnly[s] === 1 || this.from[s] === RECENT_IDS_OFF) return `${RECENT_IDS_OFF}\t\\\\x`;
    const whole = this.whole[s] === 1;
    const n = this.count[s]!;
    let hex = '';
    for (let i = whole ? 0 : this.storedCount[s]!; i < n; i++) {
      const e = this.entryAt(s, i);
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
    this.release(s);
    this.dropLists(s);
    this.count[s] = 0;
  }

  clear(): void {
    this.more = [];
    this.tables = [];
    this.memoryOnly.fill(0);
    this.memoryOnlyBytes = 0;
  }

  /** From now on, and in Postgres, this user's checks go to the ledger. */
  private giveUp(s: number, reason: GiveUpReason): void {
    this.givenUp[reason] = (this.givenUp[reason] ?? 0) + 1;
    this.release(s);
    this.from[s] = RECENT_IDS_OFF;
    this.count[s] = 0;
    this.dropLists(s);
    this.whole[s] = 1;
  }

  /** A memory-only user's lists leave the budget (they are about to be dropped or re-added). */
  private release(s: number): void {
    if (this.memoryOnly[s] === 1) this.memoryOnlyBytes -= this.listBytes(s);
    this.memoryOnly[s] = 0;
  }

  /** Only where set: writing undefined past the arrays' end would grow them for every user held (8 bytes each). */
  private dropLists(s: number): void {
    if (this.more[s] !== undefined) this.more[s] = undefined;
    if (this.tables[s] !== undefined) this.tables[s] = undefined;
  }

  /** The bytes of a user's lists: the entries past its first (with room to grow) and its table. */
  private listBytes(s: number): number {
    return ((this.more[s]?.length ?? 0) + (this.tables[s]?.length ?? 0)) * 4;
  }

  private entryAt(s: number, i: number): number {
    return i === 0 ? this.first[s]! : this.more[s]![i - 1]!;
  }

  private push(s: number, e: number): void {
    const busy = this.memoryOnly[s] === 1;
    const before = busy ? this.listBytes(s) : 0;
    const n = this.count[s]!;
    if (n === 0) this.first[s] = e;
    else {
      let more = this.more[s];
      if (more === undefined || more.length < n) {
        const grown = new Int32Array(Math.max(4, Math.ceil(n * 1.5)));
        if (more !== undefined) grown.set(more);
        this.more[s] = more = grown;
      }
      more[n - 1] = e;
    }
    this.count[s] = n + 1;
    const table = this.tables[s];
    if (table !== undefined && (n + 1) * 2 <= table.length) insert(table, e);
    else if (n + 1 > TABLE_FROM) this.buildTable(s);
    if (busy) this.memoryOnlyBytes += this.listBytes(s) - before;
  }

  /** A table at most half full, of every entry. */
  private buildTable(s: number): void {
    const n = this.count[s]!;
    let size = 64;
    while (size < n * 2) size *= 2;
    const table = new Int32Array(size);
    insert(table, this.first[s]!);
    const more = this.more[s]!;
    for (let i = 0; i < n - 1; i++) insert(table, more[i]!);
    this.tables[s] = table;
  }

  /** Moves `from` to `newFrom`, dropping older entries and shifting the rest. */
  private prune(s: number, newFrom: number): void {
    const shift = newFrom - this.from[s]!;
    const n = this.count[s]!;
    const kept: number[] = [];
    for (let i = 0; i < n; i++) {
      const e = this.entryAt(s, i);
      const off = (e >>> 24) - shift;
      if (off >= 0) kept.push((off << 24) | (e & HASH_MASK));
    }
    const memoryOnly = this.memoryOnly[s]!;
    this.release(s);
    this.count[s] = 0;
    this.dropLists(s);
    this.from[s] = newFrom;
    this.whole[s] = 1;
    for (const e of kept) this.push(s, e);
    if (memoryOnly === 1 && kept.length >= MAX_STORED) {
      this.memoryOnly[s] = 1;
      this.memoryOnlyBytes += this.listBytes(s);
    }
  }

  private ensure(s: number): void {
    if (s < this.from.length) return;
    const n = Math.max(1024, this.from.length * 2, s + 1);
    const widen = <T extends TypedColumn>(old: T, make: (k: number) => T): T => widened(old, n, make);
    this.from = widen(this.from, (k) => new Int32Array(k));
    this.count = widen(this.count, (k) => new Uint32Array(k));
    this.memoryOnly = widen(this.memoryOnly, (k) => new Uint8Array(k));
    this.first = widen(this.first, (k) => new Int32Array(k));
    this.storedCount = widen(this.storedCount, (k) => new Uint16Array(k));
    this.whole = widen(this.whole, (k) => new Uint8Array(k));
  }
}

/** Entries past which a user's checks use a table instead of a scan (a busy user, held in memory only). */
const TABLE_FROM = MAX_STORED;

function insert(table: Int32Array, e: number): void {
  const mask = table.length - 1;
  let i = e & mask;
  while (table[i] !== 0) i = (i + 1) & mask;
  table[i] = e | 0x80000000;
}

/**
 * Days of entries a summary keeps behind its newest: three windows and a day either side, so that
 * events up to two windows older than the user's newest (a stream out of time order, a backfill)
 * are still answered here.
 */
export function keepDays(windowMs: number): number {
  return 3 * Math.ceil(windowMs / DAY_MS) + 2;
}
