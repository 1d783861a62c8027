/**
 * The points lifecycle of config/rules.schema.md ("Points lifecycle"), written as plainly as
 * possible and without any code of src/lifecycle: one object per lot, lots with no points
 * removed at once, sorting instead of keeping order. One account of one user; the caller owns
 * the partition clock and passes it in.
 */

const DAY = 86_400_000;

export interface ModelSettings {
  pendingMs: number;
  expiresAfterMs: number | null;
}

export interface ModelLot {
  available: number;
  expiry: number;
  points: number;
}

export interface ModelRow {
  at: number;
  points: number;
}

/** Midnight UTC at or after `ms`, by way of the calendar. */
export function nextMidnight(ms: number): number {
  const d = new Date(ms);
  const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return midnight === ms ? ms : midnight + DAY;
}

export function modelAvailable(s: ModelSettings, t: number): number {
  return s.pendingMs === 0 ? t : nextMidnight(t + s.pendingMs);
}

export function modelExpiry(s: ModelSettings, t: number): number {
  return s.expiresAfterMs === null ? Infinity : nextMidnight(t + s.expiresAfterMs);
}

const bySpendOrder = (a: ModelLot, b: ModelLot): number =>
  a.expiry !== b.expiry ? (a.expiry < b.expiry ? -1 : 1) : a.available - b.available;

export class ModelAccount {
  lots: ModelLot[] = [];
  debt = 0;

  /** Expires, at `clock`, every lot whose expiry has come; rows per moment, ascending. */
  expire(clock: number): ModelRow[] {
    const gone = this.lots.filter((l) => l.expiry <= clock);
    this.lots = this.lots.filter((l) => l.expiry > clock);
    const perMoment = new Map<number, number>();
    for (const l of gone) perMoment.set(l.expiry, (perMoment.get(l.expiry) ?? 0) + l.points);
    return [...perMoment].sort((a, b) => a[0] - b[0]).map(([at, points]) => ({ at, points }));
  }

  isAvailable = (l: ModelLot, clock: number): boolean => l.available <= clock && l.expiry > clock;
  isPending = (l: ModelLot, clock: number): boolean => l.available > clock && l.expiry > clock;

  spendable(clock: number): number {
    return this.lots.filter((l) => this.isAvailable(l, clock)).reduce((t, l) => t + l.points, 0) - this.debt;
  }

  pending(clock: number): number {
    return this.lots.filter((l) => this.isPending(l, clock)).reduce((t, l) => t + l.points, 0);
  }

  total(): number {
    return this.lots.reduce((t, l) => t + l.points, 0) - this.debt;
  }

  /** Adds points as a lot; returns a row for points that expire at once (a late event), else null. */
  credit(points: number, available: number, expiry: number, clock: number): ModelRow | null {
    const paid = Math.min(points, this.debt);
    this.debt -= paid;
    points -= paid;
    if (points === 0) return null;
    if (expiry <= clock) return { at: expiry, points };
    let into: ModelLot | undefined;
    if (available <= clock) {
      into = this.lots.filter((l) => l.expiry === expiry && l.available <= clock).sort(bySpendOrder)[0];
    } else {
      into = this.lots.find((l) => l.expiry === expiry && l.available === available);
    }
    if (into !== undefined) into.points += points;
    else this.lots.push({ available, expiry, points });
    return null;
  }

  /** Takes points from `lots` in spend order; returns what they lacked. */
  private takeFrom(lots: ModelLot[], points: number): number {
    for (const l of [...lots].sort(bySpendOrder)) {
      const t = Math.min(l.points, points);
      l.points -= t;
      points -= t;
    }
    this.lots = this.lots.filter((l) => l.points > 0);
    return points;
  }

  debit(points: number, clock: number): void {
    let rest = this.takeFrom(
      this.lots.filter((l) => this.isAvailable(l, clock)),
      points,
    );
    rest = this.takeFrom(
      this.lots.filter((l) => this.isPending(l, clock)),
      rest,
    );
    this.debt += rest;
  }

  /** A refund of a purchase made at `purchaseTime` taking back `points`. */
  refund(s: ModelSettings, purchaseTime: number, points: number, clock: number): void {
    const a = modelAvailable(s, purchaseTime);
    const e = modelExpiry(s, purchaseTime);
    let own: ModelLot[] = [];
    if (e > clock) {
      own =
        a > clock
          ? this.lots.filter((l) => l.available === a && l.expiry === e)
          : this.lots.filter((l) => l.expiry === e && l.available <= clock);
    }
    this.debit(this.takeFrom(own, points), clock);
  }

  openLots(): ModelLot[] {
    return this.lots.map((l) => ({ ...l })).sort(bySpendOrder);
  }

  nextExpiry(): number {
    return Math.min(Infinity, ...this.lots.map((l) => l.expiry));
  }
}
