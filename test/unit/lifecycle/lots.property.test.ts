import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExpiryRows } from '../../../src/lifecycle/expiry-rows.js';
import { LotBook, type LotChange } from '../../../src/lifecycle/lot-book.js';
import { applyToLots } from '../../../src/lifecycle/event-lots.js';
import type { LifecycleSettings } from '../../../src/lifecycle/lot-times.js';
import {
  ModelAccount,
  modelAvailable,
  modelExpiry,
  nextMidnight,
  type ModelLot,
  type ModelRow,
  type ModelSettings,
} from './reference-model.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);

type Op =
  | { kind: 'purchase'; t: number; points: number }
  | { kind: 'redeem'; t: number; amount: number }
  | { kind: 'refund'; t: number; which: number; points: number }
  | { kind: 'adjust'; t: number; amount: number; expiresAt: number | undefined }
  | { kind: 'tick'; t: number }
  | { kind: 'flush' };

/**
 * Steps between event times: mostly forward (so lots live, merge and expire), sometimes back
 * (late events), often whole days or hours so midnights and ties happen.
 */
const arbStep = fc.oneof(
  fc.integer({ min: -2, max: 4 }).map((d) => d * DAY),
  fc.integer({ min: -12, max: 30 }).map((h) => h * HOUR),
  fc.integer({ min: -DAY, max: 3 * DAY }),
);

type Timed<K> = K extends { t: number } ? Omit<K, 't'> & { dt: number } : K;
type StepOp = Timed<Op>;

const arbStepOp: fc.Arbitrary<StepOp> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('purchase' as const),
      dt: arbStep,
      points: fc.integer({ min: 0, max: 100 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('redeem' as const),
      dt: arbStep,
      amount: fc.integer({ min: 0, max: 150 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      dt: arbStep,
      which: fc.nat(),
      points: fc.integer({ min: 0, max: 100 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      dt: arbStep,
      amount: fc.integer({ min: -120, max: 120 }),
      expiresAt: fc.option(fc.integer({ min: -2 * DAY, max: 40 * DAY }), { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), dt: arbStep }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
);

/** Operations with absolute times: each step's time is the previous one's plus its dt; an adjust's expires_at is relative to its time. */
const arbOps: fc.Arbitrary<Op[]> = fc.array(arbStepOp, { maxLength: 100 }).map((steps) => {
  let t = T0;
  return steps.map((s): Op => {
    if (s.kind === 'flush') return s;
    const { dt, ...rest } = s;
    t += dt;
    if (rest.kind === 'adjust')
      return { ...rest, t, expiresAt: rest.expiresAt === undefined ? undefined : t + rest.expiresAt };
    return { ...rest, t };
  });
});

const arbSettings: fc.Arbitrary<LifecycleSettings> = fc
  .record({
    pendingMs: fc.constantFrom(0, HOUR, 12 * HOUR, DAY, 36 * HOUR, 14 * DAY),
    expiresAfterMs: fc.constantFrom(null, 2 * HOUR, DAY, 2 * DAY, 3 * DAY, 7 * DAY, 10 * DAY, 30 * DAY),
  })
  .filter((s) => s.expiresAfterMs === null || s.expiresAfterMs > s.pendingMs);

interface Snapshot {
  outcome: 'applied' | 'rejected' | 'none';
  rows: ModelRow[];
  total: number;
  spendable: number;
  pending: number;
  debt: number;
  lots: ModelLot[];
  nextExpiry: number;
  pointsAtNextExpiry: number;
  openLots: number;
}

/** The module, driven the way the engine will drive it: clock step, settle, then the event's points through applyToLots. */
class Engine {
  readonly book = new LotBook();
  clock = -Infinity;
  private readonly rows = new ExpiryRows();
  private readonly late = new ExpiryRows();
  private readonly purchases: number[] = [];
  /** Stands in for the point_lots rows of this user: key "available/expiry" -> remaining. */
  readonly db = new Map<string, number>();

  constructor(
    private readonly s: LifecycleSettings,
    private readonly allowNegative: boolean,
  ) {}

  step(op: Op): Snapshot {
    let outcome: Snapshot['outcome'] = 'none';
    const out: ModelRow[] = [];
    if (op.kind === 'flush') {
      this.flush();
    } else {
      this.clock = Math.max(this.clock, op.t);
      this.rows.reset();
      this.book.settle(this.clock, this.rows);
      for (let i = 0; i < this.rows.length; i++) out.push({ at: this.rows.at(i), points: this.rows.points(i) });
      outcome = this.apply(op, out);
    }
    return this.snapshot(outcome, out);
  }

  /** Decides like evaluate (which sees spendableAt(clock) as the balance), then hands the applied points to applyToLots. */
  private apply(op: Exclude<Op, { kind: 'flush' }>, out: ModelRow[]): Snapshot['outcome'] {
    const b = this.book;
    const c = this.clock;
    let delta: number;
    let purchaseMs: number | undefined;
    switch (op.kind) {
      case 'tick':
        return 'none';
      case 'purchase':
        this.purchases.push(op.t);
        delta = op.points;
        break;
      case 'redeem':
        if (!this.allowNegative && b.spendableAt(c) < op.amount) return 'rejected';
        delta = 0 - op.amount;
        break;
      case 'refund':
        if (this.purchases.length === 0) return 'rejected';
        purchaseMs = this.purchases[op.which % this.purchases.length]!;
        delta = 0 - op.points;
        break;
      case 'adjust':
        if (!this.allowNegative && op.amount < 0 && b.spendableAt(c) + op.amount < 0) return 'rejected';
        delta = op.amount;
        break;
    }
    this.late.reset();
    applyToLots(
      b,
      this.s,
      op.kind,
      op.t,
      delta,
      c,
      purchaseMs,
      op.kind === 'adjust' ? op.expiresAt : undefined,
      this.late,
    );
    for (let i = 0; i < this.late.length; i++) out.push({ at: this.late.at(i), points: this.late.points(i) });
    return 'applied';
  }

  flush(): void {
    const seen = new Set<string>();
    this.book.forEachChange((a, e, r, change: LotChange) => {
      const key = `${a}/${e}`;
      expect(seen.has(key), `one change per lot ${key}`).toBe(false);
      seen.add(key);
      expect(change === 'insert').toBe(!this.db.has(key));
      if (change === 'delete') this.db.delete(key);
      else this.db.set(key, r);
    });
    this.book.markWritten();
  }

  snapshot(outcome: Snapshot['outcome'], rows: ModelRow[]): Snapshot {
    const b = this.book;
    const lots: ModelLot[] = [];
    b.forEachOpenLot((available, expiry, points) => lots.push({ available, expiry, points }));
    const next = b.nextExpiry();
    return {
      outcome,
      rows,
      total: b.total(),
      spendable: b.spendableAt(this.clock),
      pending: b.pendingAt(this.clock),
      debt: b.debt,
      lots,
      nextExpiry: next,
      pointsAtNextExpiry: b.pointsExpiringAt(next),
      openLots: b.openLots(),
    };
  }
}

/** The reference model, driven the same way. */
class Model {
  readonly account = new ModelAccount();
  clock = -Infinity;
  private readonly purchases: number[] = [];

  constructor(
    private readonly s: ModelSettings,
    private readonly allowNegative: boolean,
  ) {}

  step(op: Op): Snapshot {
    const a = this.account;
    let outcome: Snapshot['outcome'] = 'none';
    let rows: ModelRow[] = [];
    if (op.kind !== 'flush') {
      this.clock = Math.max(this.clock, op.t);
      rows = a.expire(this.clock);
      const born = this.apply(op);
      outcome = born.outcome;
      if (born.row !== null) rows.push(born.row);
    }
    const next = a.nextExpiry();
    const lots = a.openLots();
    return {
      outcome,
      rows,
      total: a.total(),
      spendable: a.spendable(this.clock),
      pending: a.pending(this.clock),
      debt: a.debt,
      lots,
      nextExpiry: next,
      pointsAtNextExpiry: lots.filter((l) => l.expiry === next).reduce((t, l) => t + l.points, 0),
      openLots: lots.length,
    };
  }

  private apply(op: Exclude<Op, { kind: 'flush' }>): { outcome: Snapshot['outcome']; row: ModelRow | null } {
    const a = this.account;
    const c = this.clock;
    switch (op.kind) {
      case 'tick':
        return { outcome: 'none', row: null };
      case 'purchase':
        this.purchases.push(op.t);
        return {
          outcome: 'applied',
          row: op.points > 0 ? a.credit(op.points, modelAvailable(this.s, op.t), modelExpiry(this.s, op.t), c) : null,
        };
      case 'redeem':
        if (!this.allowNegative && a.spendable(c) < op.amount) return { outcome: 'rejected', row: null };
        a.debit(op.amount, c);
        return { outcome: 'applied', row: null };
      case 'refund':
        if (this.purchases.length === 0) return { outcome: 'rejected', row: null };
        a.refund(this.s, this.purchases[op.which % this.purchases.length]!, op.points, c);
        return { outcome: 'applied', row: null };
      case 'adjust': {
        if (op.amount >= 0) {
          const e = op.expiresAt === undefined ? modelExpiry(this.s, op.t) : nextMidnight(op.expiresAt);
          return { outcome: 'applied', row: a.credit(op.amount, op.t, e, c) };
        }
        if (!this.allowNegative && a.spendable(c) + op.amount < 0) return { outcome: 'rejected', row: null };
        a.debit(-op.amount, c);
        return { outcome: 'applied', row: null };
      }
    }
  }
}

const RUNS = { numRuns: 1000 };

describe('LotBook against the reference model', () => {
  it('agrees on every outcome, expire row, balance, lot and next expiry after every step', () => {
    fc.assert(
      fc.property(arbSettings, fc.boolean(), arbOps, (s, allowNegative, ops) => {
        const engine = new Engine(s, allowNegative);
        const model = new Model(s, allowNegative);
        for (const [i, op] of ops.entries()) {
          const got = engine.step(op);
          const want = model.step(op);
          expect(got, `step ${i}: ${JSON.stringify(op)}`).toEqual(want);
          // The ledger's sum: total moves only by event deltas and expire rows, never by a release.
          expect(got.total).toBe(got.spendable + got.pending);
        }
      }),
      RUNS,
    );
  });

  it('a flush writes exactly the changed lots: the stored rows always equal the open lots', () => {
    fc.assert(
      fc.property(arbSettings, fc.boolean(), arbOps, (s, allowNegative, ops) => {
        const engine = new Engine(s, allowNegative);
        const model = new Model(s, allowNegative);
        for (const op of [...ops, { kind: 'flush' as const }]) {
          engine.step(op);
          model.step(op);
          if (op.kind !== 'flush') continue;
          const stored = [...engine.db].map(([k, points]) => `${k}=${points}`).sort();
          const open = model.account
            .openLots()
            .map((l) => `${l.available}/${l.expiry}=${l.points}`)
            .sort();
          expect(stored).toEqual(open);
        }
      }),
      RUNS,
    );
  });

  it('settling a user only before its own events and at the end gives the same rows and lots as settling at every clock step', () => {
    fc.assert(
      fc.property(
        arbSettings,
        fc.boolean(),
        arbOps,
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 100, maxLength: 100 }),
        (s, allowNegative, plain, users) => {
          const ops = plain.map((op, i) => ({ user: users[i]!, op }));
          // Eager: the reference model expires every user's lots at every clock step.
          const models = [0, 1, 2].map(() => new Model(s, allowNegative));
          const eagerRows: string[] = [];
          // Lazy: each user's book is settled only when it has an event (and once at the end), at the partition clock.
          const engines = [0, 1, 2].map(() => new Engine(s, allowNegative));
          const lazyRows: string[] = [];
          let clock = -Infinity;
          for (const { user, op } of ops) {
            if (op.kind !== 'flush') clock = Math.max(clock, op.t);
            models.forEach((m, u) => {
              const tick: Op = op.kind === 'flush' ? op : { kind: 'tick', t: clock };
              for (const r of m.step(u === user ? op : tick).rows) eagerRows.push(`${u}:${r.at}:${r.points}`);
            });
            const e = engines[user]!;
            e.clock = clock;
            for (const r of e.step(op).rows) lazyRows.push(`${user}:${r.at}:${r.points}`);
          }
          engines.forEach((e, u) => {
            e.clock = Math.max(e.clock, clock);
            for (const r of e.step({ kind: 'tick', t: clock }).rows) lazyRows.push(`${u}:${r.at}:${r.points}`);
            expect(e.snapshot('none', []).lots).toEqual(models[u]!.account.openLots());
          });
          expect(lazyRows.sort()).toEqual(eagerRows.sort());
        },
      ),
      RUNS,
    );
  });
});
