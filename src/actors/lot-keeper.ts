import { ExpiryRows } from '../lifecycle/expiry-rows.js';
import { LotBook } from '../lifecycle/lot-book.js';
import { LotChanges, type StoredLot } from '../lifecycle/lot-sql.js';
import { ceilToMidnightUtc, NEVER } from '../lifecycle/lot-times.js';

/** True when a midnight UTC lies in (from, to]: every lot's expiry (and every pending lot's available moment) is one. */
export function crossesMidnight(from: number, to: number): boolean {
  if (!(to > from)) return false;
  if (from === -Infinity) return true;
  return ceilToMidnightUtc(Math.floor(from) + 1) <= to;
}

/**
 * A partition actor's points lifecycle state, used only under a `lifecycle:` block: the
 * partition's clock and one LotBook per held user (by the UserTable's slot). The book
 * arithmetic is src/lifecycle's; this keeps which user has which book, and when every held
 * user must be settled (a midnight passed: all expiries are midnights).
 */
export class LotKeeper {
  /** The partition's clock (ms): the largest event time applied; -Infinity before the first. */
  clock = -Infinity;
  /** The clock as Postgres stores it (last commit). */
  committedClock = -Infinity;
  /** Every held user is settled at this clock (the flush's scan); users loaded since are settled before their events. */
  private settledClock = -Infinity;
  /**
   * The scan under way (a midnight passed since settledClock): held users in slots below `next` are
   * settled at `clock` or later, the rest perhaps not yet (each flush settles a bounded share). Null:
   * none under way.
   */
  private pass: { clock: number; next: number } | null = null;
  /** consumer_offsets.lifecycle_seq as of the last commit (or load): the fence of every lifecycle flush. */
  seq = 0;
  /**
   * Due lots of users not held may still wait in Postgres: the last flush's SQL expiry reached its
   * bound (or a previous owner left some). Another flush should follow soon, with or without events.
   */
  backlog = false;
  /** False until the stored clock is read (after open, a reset, or the block being turned on). */
  loaded = false;
  private books: (LotBook | undefined)[] = [];
  /** Open lots of the partition (held and not), kept from a count at load plus every change since. */
  openLots = 0;
  readonly rows = new ExpiryRows();
  readonly late = new ExpiryRows();

  /** After reading the stored clock, lifecycle_seq, lot count and whether lots are due at that clock. */
  load(storedClock: number | null, openLots: number, seq: number, backlog: boolean): void {
    this.clock = this.committedClock = this.settledClock = storedClock ?? -Infinity;
    this.openLots = openLots;
    this.seq = seq;
    this.backlog = backlog;
    this.books = [];
    this.pass = null;
    this.loaded = true;
  }

  reset(): void {
    this.books = [];
    this.pass = null;
    this.loaded = false;
    this.backlog = false;
  }

  /** Moves the clock for an event (or tick) at `ms`. */
  advance(ms: number): void {
    if (ms > this.clock) this.clock = ms;
  }

  /**
   * A user just loaded from Postgres: its lots, and its debt (lots minus balance). More balance than
   * lots means points from before the block was turned on: they become one lot, spendable and never
   * expiring, written at the next flush.
   */
  adopt(slot: number, lots: StoredLot[] | undefined, balance: number): void {
    if (lots === undefined && balance === 0) {
      this.books[slot] = undefined;
      return;
    }
    const b = new LotBook();
    let sum = 0;
    for (const l of lots ?? []) {
      b.load(l.available, l.expiry, l.remaining);
      sum += l.remaining;
    }
    if (sum >= balance) b.debt = sum - balance;
    else b.credit(balance - sum, 0, NEVER, this.clock);
    this.books[slot] = b;
  }

  bookOf(slot: number): LotBook {
    let b = this.books[slot];
    if (b === undefined) this.books[slot] = b = new LotBook();
    return b;
  }

  /** The user's book when it has one (a user without one holds nothing). */
  existing(slot: number): LotBook | undefined {
    return this.books[slot];
  }

  forget(slot: number): void {
    this.books[slot] = undefined;
  }

  /** Expires the user's lots expired at the clock into `rows` (reset first); returns the points. */
  settle(slot: number): number {
    this.rows.reset();
    const b = this.books[slot];
    return b === undefined ? 0 : b.settle(this.clock, this.rows);
  }

  /** True when the flush must settle held users first (a midnight passed since the last whole scan, or one is under way). */
  needsScan(): boolean {
    return this.pass !== null || crossesMidnight(this.settledClock, this.clock);
  }

  /**
   * True while held users may be unsettled at the clock (a scan is under way): their due lots are still
   * in Postgres, so the SQL expiry must wait (it would expire them a second time), and flushes must
   * keep coming until the scan ends.
   */
  get scanning(): boolean {
    return this.pass !== null;
  }

  /**
   * Calls `visit` (which settles the user and returns the lots it expired) for held users with a book in
   * slot order, from where the last call stopped, until `maxLots` lots expired; restarts from the first
   * slot when a midnight passed since the scan began. Returns true when the scan is done: every held
   * user is settled at the clock (users loaded meanwhile were settled at their load).
   */
  scan(visit: (slot: number) => number, maxLots = Infinity): boolean {
    if (this.pass === null || crossesMidnight(this.pass.clock, this.clock)) this.pass = { clock: this.clock, next: 0 };
    const p = this.pass;
    let lots = 0;
    while (p.next < this.books.length && lots < maxLots) {
      const s = p.next++;
      if (this.books[s] !== undefined) lots += visit(s);
    }
    if (p.next < this.books.length) return false;
    this.settledClock = p.clock;
    this.pass = null;
    return true;
  }

  /** True when a midnight passed since the stored clock: lots of users not held may have become due. */
  crossedSinceCommit(): boolean {
    return crossesMidnight(this.committedClock, this.clock);
  }

  /** True when the flush must expire due lots of users not held: some became due, or some still wait. */
  needsSqlExpiry(): boolean {
    return this.backlog || this.crossedSinceCommit();
  }

  /** Adds a user's lot rows that differ from Postgres to `out`; returns lots opened minus lots closed. */
  collect(slot: number, userId: string, out: LotChanges): number {
    const b = this.books[slot];
    if (b === undefined) return 0;
    let opened = 0;
    b.forEachChange((a, e, r, change) => {
      out.add(userId, a, e, change === 'delete' ? 0 : r);
      if (change === 'insert') opened++;
      else if (change === 'delete') opened--;
    });
    return opened;
  }

  /** After the commit of collect's rows. */
  committed(slot: number): void {
    const b = this.books[slot];
    if (b === undefined) return;
    b.markWritten();
    if (b.isEmpty()) this.books[slot] = undefined;
  }
}
