import type { LifecycleEvent } from '../../tools/simulator/lifecycle-stream.js';

/*
 * An independent replay of the points lifecycle contract (config/rules.schema.md, "Points
 * lifecycle"), written from the contract and not from src/lifecycle: plain objects, one list of
 * lots per user, everything recomputed. For the rules of LIFECYCLE_RULES only (1 point per whole
 * unit, 14 days pending, 365 days validity, allow_negative false).
 */

const DAY = 86_400_000;
const PENDING = 14 * DAY;
const VALIDITY = 365 * DAY;
const REFUND_WINDOW = 90 * DAY;

const midnightUp = (ms: number): number => Math.ceil(ms / DAY) * DAY;

interface Lot {
  a: number;
  e: number;
  pts: number;
}

interface Purchase {
  amount: number;
  points: number;
  timeMs: number;
  amountRefunded: number;
  pointsRefunded: number;
}

class ReplayUser {
  lots: Lot[] = [];
  debt = 0;
  purchases = new Map<string, Purchase>();
}

export class LifecycleReplay {
  readonly users = new Map<string, ReplayUser>();
  readonly clocks = new Map<number, number>();
  readonly partitionOf = new Map<string, number>();
  expiredPoints = 0;

  add(ev: LifecycleEvent): void {
    const clock = Math.max(this.clocks.get(ev.partition) ?? -Infinity, ev.timeMs);
    this.clocks.set(ev.partition, clock);
    this.partitionOf.set(ev.userId, ev.partition);
    let u = this.users.get(ev.userId);
    if (u === undefined) this.users.set(ev.userId, (u = new ReplayUser()));
    this.expire(u, clock);
    const spendable = sum(u.lots.filter((l) => l.a <= clock)) - u.debt;
    switch (ev.type) {
      case 'purchase': {
        const p = Math.floor(ev.amount);
        u.purchases.set(ev.eventId, {
          amount: ev.amount,
          points: p,
          timeMs: ev.timeMs,
          amountRefunded: 0,
          pointsRefunded: 0,
        });
        this.credit(u, p, midnightUp(ev.timeMs + PENDING), midnightUp(ev.timeMs + VALIDITY), clock);
        return;
      }
      case 'redeem':
        if (spendable >= ev.amount) this.debit(u, ev.amount, clock);
        return;
      case 'adjust':
        if (ev.amount < 0) {
          if (spendable + ev.amount >= 0) this.debit(u, -ev.amount, clock);
        } else {
          const e = ev.expiresAtMs !== undefined ? midnightUp(ev.expiresAtMs) : midnightUp(ev.timeMs + VALIDITY);
          this.credit(u, ev.amount, ev.timeMs, e, clock);
        }
        return;
      case 'refund': {
        const p = u.purchases.get(ev.originalEventId ?? '');
        if (p === undefined || Math.abs(ev.timeMs - p.timeMs) > REFUND_WINDOW)
          throw new Error(`stream refunds a purchase the replay cannot refund: ${ev.eventId}`);
        // Integer arithmetic: floor(points * refunded / amount), never above the points earned.
        const refunded = p.amountRefunded + ev.amount;
        const target = refunded >= p.amount ? p.points : Math.floor((p.points * refunded) / p.amount);
        const back = Math.max(0, target - p.pointsRefunded);
        p.amountRefunded = refunded;
        p.pointsRefunded += back;
        const pa = midnightUp(p.timeMs + PENDING);
        const pe = midnightUp(p.timeMs + VALIDITY);
        let rest = back;
        if (pe > clock) {
          const own = u.lots
            .filter((l) => l.e === pe && (pa > clock ? l.a === pa : l.a <= clock))
            .sort((x, y) => x.a - y.a);
          for (const l of own) rest -= take(l, rest);
        }
        this.debit(u, rest, clock);
        this.prune(u);
        return;
      }
    }
  }

  private expire(u: ReplayUser, clock: number): void {
    for (const l of u.lots) if (l.e <= clock) this.expiredPoints += l.pts;
    u.lots = u.lots.filter((l) => l.e > clock);
  }

  private credit(u: ReplayUser, points: number, a: number, e: number, clock: number): void {
    const paid = Math.min(u.debt, points);
    u.debt -= paid;
    const rest = points - paid;
    if (rest <= 0) return;
    if (e <= clock) {
      this.expiredPoints += rest;
      return;
    }
    const into =
      a <= clock
        ? u.lots.filter((l) => l.e === e && l.a <= clock && l.pts > 0).sort((x, y) => x.a - y.a)[0]
        : u.lots.find((l) => l.e === e && l.a === a);
    if (into !== undefined) into.pts += rest;
    else u.lots.push({ a, e, pts: rest });
  }

  private debit(u: ReplayUser, points: number, clock: number): void {
    let rest = points;
    const order = (x: Lot, y: Lot): number => x.e - y.e || x.a - y.a;
    for (const l of u.lots.filter((l) => l.a <= clock).sort(order)) rest -= take(l, rest);
    for (const l of u.lots.filter((l) => l.a > clock).sort(order)) rest -= take(l, rest);
    u.debt += rest;
    this.prune(u);
  }

  private prune(u: ReplayUser): void {
    u.lots = u.lots.filter((l) => l.pts > 0);
  }

  /** Expires what every partition's final clock expired (users without a later event included). */
  finish(): void {
    for (const [id, u] of this.users) this.expire(u, this.clocks.get(this.partitionOf.get(id)!)!);
  }

  /** A user's points at its partition's final clock: spendable, pending, and the balance the ledger adds up to. */
  state(userId: string): { points: number; pending: number; balance: number } {
    const u = this.users.get(userId)!;
    const clock = this.clocks.get(this.partitionOf.get(userId)!)!;
    const live = u.lots.filter((l) => l.e > clock);
    const pending = sum(live.filter((l) => l.a > clock));
    const spendable = sum(live.filter((l) => l.a <= clock)) - u.debt;
    return { points: spendable, pending, balance: spendable + pending };
  }

  /** The points of a user's open lots at its partition's final clock (without its debt). */
  lotPoints(userId: string): number {
    const clock = this.clocks.get(this.partitionOf.get(userId)!)!;
    return sum(this.users.get(userId)!.lots.filter((l) => l.e > clock));
  }
}

function sum(lots: Lot[]): number {
  let t = 0;
  for (const l of lots) t += l.pts;
  return t;
}

function take(l: Lot, want: number): number {
  const t = Math.min(l.pts, Math.max(0, want));
  l.pts -= t;
  return t;
}
