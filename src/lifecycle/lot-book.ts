import type { ExpiryRows } from './expiry-rows.js';

/*
 * Each lot is four numbers in one flat array (one small array per user instead of an object per
 * lot), kept in spend order: expiry ascending, then available ascending. A lot whose points are
 * gone stays (remaining 0) until markWritten, so the next flush can delete its row.
 */
const STRIDE = 4;
const AVAILABLE = 0;
const EXPIRY = 1;
const REMAINING = 2;
/** The remaining points Postgres holds for the lot; UNWRITTEN before its first flush. */
const WRITTEN = 3;
const UNWRITTEN = -1;

/** What a flush must do to a lot's row. */
export type LotChange = 'insert' | 'update' | 'delete';
export type LotVisitor = (available: number, expiry: number, remaining: number) => void;
export type LotChangeVisitor = (available: number, expiry: number, remaining: number, change: LotChange) => void;

/**
 * One user's points lots: the arithmetic of the rules file's `lifecycle:` block (contract in
 * config/rules.schema.md). Times are ms since the epoch; `clock` is the partition's clock. Every
 * method that takes the clock ignores lots expired at it, so the caller must settle(clock)
 * first to account for them. Deciding whether a debit is allowed stays with the rules
 * (evaluate sees spendableAt(clock) as the balance); the book only applies.
 */
export class LotBook {
  private lots: number[] = [];
  /**
   * Points owed beyond every lot (a clawback, or a debit allowed by allow_negative). A credit pays
   * it first, and a debit only adds to it once every lot is empty, so debt > 0 means no lot
   * holds points: expiry and release never have to pay it.
   */
  debt = 0;

  /** Adds a lot as Postgres stores it (loading a user). */
  load(available: number, expiry: number, remaining: number): void {
    this.insert(available, expiry, remaining, remaining);
  }

  /**
   * Expires every lot expired at `clock` (expiry <= clock): adds one row per expiry moment to
   * `rows` (ascending) and returns the points expired. Expiry touches nothing but these lots, so
   * it gives the same rows whenever it runs, provided it runs before the user's next event.
   */
  settle(clock: number, rows: ExpiryRows): number {
    const l = this.lots;
    let expired = 0;
    for (let i = 0; i < l.length && l[i + EXPIRY]! <= clock; i += STRIDE) {
      const r = l[i + REMAINING]!;
      if (r === 0) continue;
      rows.add(l[i + EXPIRY]!, r);
      l[i + REMAINING] = 0;
      expired += r;
    }
    return expired;
  }

  /**
   * Adds `points` (> 0) as a lot available from `available` and expiring at `expiry`. The debt is
   * paid first. A lot available at the clock joins the open lot available at the clock with the
   * same expiry (the earliest available one); a pending lot joins the open lot of the same times.
   * Returns the points that expire at once (expiry <= clock, a late event): the caller writes an
   * expire row for them at `expiry`; no lot is kept.
   */
  credit(points: number, available: number, expiry: number, clock: number): number {
    if (!(points > 0)) return 0;
    const paid = this.debt < points ? this.debt : points;
    this.debt -= paid;
    const rest = points - paid;
    if (rest === 0) return 0;
    if (expiry <= clock) return rest;
    const l = this.lots;
    const pending = available > clock;
    let exact = -1;
    for (let i = this.firstExpiringAt(expiry); i < l.length && l[i + EXPIRY] === expiry; i += STRIDE) {
      const a = l[i + AVAILABLE]!;
      if (a === available) exact = i;
      if (!pending && a <= clock && l[i + REMAINING]! > 0) {
        l[i + REMAINING]! += rest;
        return 0;
      }
    }
    // An exact-key lot here is open and pending, or empty: either way, refill it.
    if (exact >= 0) l[exact + REMAINING]! += rest;
    else this.insert(available, expiry, rest, UNWRITTEN);
    return 0;
  }

  /**
   * Takes `points` (a redeem, a negative adjust, the rest of a refund): from the lots available at
   * the clock in spend order, then from the pending lots in the same order, then as debt.
   * Returns the points that became debt.
   */
  debit(points: number, clock: number): number {
    if (!(points > 0)) return 0;
    let rest = this.take(points, clock, true);
    if (rest > 0) rest = this.take(rest, clock, false);
    this.debt += rest;
    return rest;
  }

  /**
   * Takes up to `points` from the lot a purchase made (its `available`/`expiry`): the open lot of
   * those times while it is pending, or every lot with that expiry available at the clock (where
   * it merged) in spend order. Returns what they did not hold.
   */
  takeBack(points: number, available: number, expiry: number, clock: number): number {
    if (!(points > 0)) return 0;
    if (expiry <= clock) return points;
    const l = this.lots;
    const pending = available > clock;
    let rest = points;
    for (let i = this.firstExpiringAt(expiry); i < l.length && l[i + EXPIRY] === expiry && rest > 0; i += STRIDE) {
      const a = l[i + AVAILABLE]!;
      if (pending ? a !== available : a > clock) continue;
      rest = this.takeFrom(i, rest);
    }
    return rest;
  }

  /** Where the lots expiring at `expiry` start (lots are ordered by expiry): the first lot expiring at or after it. */
  private firstExpiringAt(expiry: number): number {
    const l = this.lots;
    let i = 0;
    while (i < l.length && l[i + EXPIRY]! < expiry) i += STRIDE;
    return i;
  }

  /** A refund's clawback: its purchase's lot first, the rest as a debit. Returns the points that became debt. */
  refund(points: number, purchaseAvailable: number, purchaseExpiry: number, clock: number): number {
    return this.debit(this.takeBack(points, purchaseAvailable, purchaseExpiry, clock), clock);
  }

  /** Points a redeem may spend at the clock: the available lots less the debt (negative when in debt). */
  spendableAt(clock: number): number {
    return this.sum(clock, true) - this.debt;
  }

  /** Points not yet available at the clock. */
  pendingAt(clock: number): number {
    return this.sum(clock, false);
  }

  /** Every lot's points less the debt: spendable + pending once settled; what the ledger rows add up to. */
  total(): number {
    const l = this.lots;
    let t = 0;
    for (let i = REMAINING; i < l.length; i += STRIDE) t += l[i]!;
    return t - this.debt;
  }

  /** The earliest expiry of a lot holding points (Infinity when none will expire). */
  nextExpiry(): number {
    const l = this.lots;
    for (let i = 0; i < l.length; i += STRIDE) if (l[i + REMAINING]! > 0) return l[i + EXPIRY]!;
    return Infinity;
  }

  /** Points of the lots expiring at `at`. */
  pointsExpiringAt(at: number): number {
    const l = this.lots;
    let t = 0;
    for (let i = 0; i < l.length; i += STRIDE) if (l[i + EXPIRY] === at) t += l[i + REMAINING]!;
    return t;
  }

  /** Lots holding points. */
  openLots(): number {
    const l = this.lots;
    let n = 0;
    for (let i = REMAINING; i < l.length; i += STRIDE) if (l[i]! > 0) n++;
    return n;
  }

  /** True when the book holds nothing worth keeping: no points, no debt, nothing to write. */
  isEmpty(): boolean {
    return this.lots.length === 0 && this.debt === 0;
  }

  /** Visits the lots holding points, in spend order. */
  forEachOpenLot(visit: LotVisitor): void {
    const l = this.lots;
    for (let i = 0; i < l.length; i += STRIDE)
      if (l[i + REMAINING]! > 0) visit(l[i + AVAILABLE]!, l[i + EXPIRY]!, l[i + REMAINING]!);
  }

  /** Visits the lots whose rows differ from what Postgres holds, with what the flush must do to each. */
  forEachChange(visit: LotChangeVisitor): void {
    const l = this.lots;
    for (let i = 0; i < l.length; i += STRIDE) {
      const r = l[i + REMAINING]!;
      const w = l[i + WRITTEN]!;
      if (r === w) continue;
      if (w === UNWRITTEN) {
        if (r > 0) visit(l[i + AVAILABLE]!, l[i + EXPIRY]!, r, 'insert');
      } else visit(l[i + AVAILABLE]!, l[i + EXPIRY]!, r, r === 0 ? 'delete' : 'update');
    }
  }

  /** After a flush has written forEachChange's rows: records them as written and drops the empty lots. */
  markWritten(): void {
    const l = this.lots;
    let j = 0;
    for (let i = 0; i < l.length; i += STRIDE) {
      const r = l[i + REMAINING]!;
      if (r === 0) continue;
      if (j !== i) {
        l[j + AVAILABLE] = l[i + AVAILABLE]!;
        l[j + EXPIRY] = l[i + EXPIRY]!;
        l[j + REMAINING] = r;
      }
      l[j + WRITTEN] = r;
      j += STRIDE;
    }
    l.length = j;
  }

  private sum(clock: number, available: boolean): number {
    const l = this.lots;
    let t = 0;
    for (let i = 0; i < l.length; i += STRIDE) {
      if (l[i + EXPIRY]! > clock && l[i + AVAILABLE]! <= clock === available) t += l[i + REMAINING]!;
    }
    return t;
  }

  /** Takes from the open lots that are (or are not) available at the clock, in spend order; returns what they did not hold. */
  private take(points: number, clock: number, available: boolean): number {
    const l = this.lots;
    let rest = points;
    for (let i = 0; i < l.length && rest > 0; i += STRIDE) {
      if (l[i + EXPIRY]! <= clock || l[i + AVAILABLE]! <= clock !== available) continue;
      rest = this.takeFrom(i, rest);
    }
    return rest;
  }

  private takeFrom(i: number, points: number): number {
    const l = this.lots;
    const r = l[i + REMAINING]!;
    const t = r < points ? r : points;
    l[i + REMAINING] = r - t;
    return points - t;
  }

  /** Inserts a lot at its place in spend order (after lots that compare equal). */
  private insert(available: number, expiry: number, remaining: number, written: number): void {
    const old = this.lots;
    let at = old.length;
    while (
      at > 0 &&
      (old[at - STRIDE + EXPIRY]! > expiry ||
        (old[at - STRIDE + EXPIRY] === expiry && old[at - STRIDE + AVAILABLE]! > available))
    )
      at -= STRIDE;
    // A new array of exactly the new size: push would reserve about three times that, per user.
    const l = new Array<number>(old.length + STRIDE);
    for (let k = 0; k < at; k++) l[k] = old[k]!;
    l[at + AVAILABLE] = available;
    l[at + EXPIRY] = expiry;
    l[at + REMAINING] = remaining;
    l[at + WRITTEN] = written;
    for (let k = at; k < old.length; k++) l[k + STRIDE] = old[k]!;
    this.lots = l;
  }
}
