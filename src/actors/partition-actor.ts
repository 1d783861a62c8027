import type pg from 'pg';
import { decodeEvent, type DecodeLimits, type DecodeResult } from '../events/decode.js';
import type { LoyaltyEvent } from '../events/event.js';
import { localDayNumber } from '../rules/calendar.js';
import type { RuleSet } from '../rules/index.js';
import { backoffMs, sleep } from '../backoff.js';
import type { PurchaseRecord, UserState } from '../rules/types.js';
import { eventKey, loadEventFacts, type FactsQuery, type LedgerFact, type RefundTotals } from '../store/event-facts.js';
import { DAY_MS, utcDay } from '../store/ledger-partitions.js';
import { rulesVersionId } from '../store/rules-versions.js';
import { CopyBuffer } from '../store/copy-buffer.js';
import { copyBytea, copyRow, copyText, COPY_NULL } from '../store/copy-text.js';
import { flushToPostgres, type FlushBatch, type FlushOutcome, type LifecycleFlush } from '../store/flush.js';
import { readLifecyclePosition, readStoredOffset } from '../store/offsets.js';
import { loadUsers, type StoredUser } from '../store/users.js';
import { readRecentIds } from '../store/recent-ids-sql.js';
import { idHash, MAX_DAY_OFFSET, RECENT_IDS_OFF, RecentIds } from './recent-ids.js';
import { applyToLots } from '../lifecycle/event-lots.js';
import type { ExpiryRows } from '../lifecycle/expiry-rows.js';
import { countLots, EXPIRE_EVENT_ID, hasDueLots, LotChanges, loadLots } from '../lifecycle/lot-sql.js';
import { LotKeeper } from './lot-keeper.js';
import { isTick, keyAt, valueAt, type PackedBatch } from './batch-codec.js';
import { tickTime } from '../kafka/clock-tick.js';
import { UserTable } from './user-table.js';
import { TaskTally } from './task-tally.js';

export interface ActorLimits {
  maxMessageBytes: number;
  cacheUsers: number;
  /** Events older than this (by event time, against the clock) are dead letters `event_too_old`: retention would drop their ledger rows. */
  ledgerRetentionMs: number;
  /** Events more than this ahead of the clock are dead letters `event_too_far_ahead`. */
  ledgerFutureMs: number;
  /** Under a `lifecycle:` block: due lots (whole users) one flush expires in SQL at most (EXPIRY_BATCH_LOTS; default 2000). */
  expiryBatchLots?: number;
  /** Memory for busy users' recent ids (RECENT_IDS_BUSY_MB, in bytes; default 64 MiB). */
  recentIdsBusyBytes?: number;
}

export interface ActorDeps {
  pool: pg.Pool;
  /** The rules in force now (they may be reloaded between batches). */
  rules: () => RuleSet;
  limits: ActorLimits;
  owner: string;
  onRetry: (what: string, error: unknown, attempt: number) => void;
}

/** EXPIRY_BATCH_LOTS' default (src/config/env.ts). */
const DEFAULT_EXPIRY_BATCH_LOTS = 2_000;

/**
 * Owns one partition: applies the rules to its events in offset order against a cache of
 * its users, keeps what is pending (deltas, ledger rows, dead letters), and commits it all
 * with the new offset in one Postgres transaction. Like a Kafka Streams task: state and
 * position are committed together, and nothing lives only in memory once flushed.
 */
export class PartitionActor {
  committedOffset: number;
  nextOffset: number;
  /** Committed values plus what is pending, per user. */
  private readonly users = new UserTable();
  /** Slots of the users changed since the last flush. */
  private dirtyUsers: number[] = [];
  private readonly ledger = new CopyBuffer(256 * 1024);
  private readonly deadLetters = new CopyBuffer(1024);
  private pendingEvents = 0;
  private tally = new TaskTally();
  private readonly scratch: UserState = { balance: 0, lifetimeEarned: 0, earnedToday: 0 };
  /** Event times of the given ids recorded since the last flush (not as duplicates), per eventKey: Postgres does not have them yet. */
  private pendingIds = new Map<string, number[]>();
  /** Each held user's recent event ids: most duplicate checks end here, without the ledger. */
  private readonly recent: RecentIds;
  /** Purchases applied since the last flush, for refunds that follow them before a flush. */
  private pendingPurchases = new Map<string, { amount: number; points: number; eventTimeMs: number }>();
  /** Refund totals per purchase, changed since the last flush (absolute values). */
  private refundTotals = new Map<string, RefundTotals>();
  /** What the ledger said about this batch's event ids (filled per batch). */
  private facts = new Map<string, LedgerFact[]>();
  /** Purchases this batch's refunds name that the ledger holds only outside the refund window. */
  private outsideWindow = new Set<string>();
  /** UTC days of the pending ledger rows: the flush makes sure their partitions exist. */
  private ledgerDays = new Set<number>();
  private lastLedgerDay = NaN;
  /** Points lifecycle (only under a `lifecycle:` block): the clock and the held users' lots. */
  private lifecycleOn = false;
  private readonly lots = new LotKeeper();
  /** The rules version of the latest batch: expire rows written at a flush carry it. */
  private rulesId = 0;
  /** Points of expire rows written in memory since the last commit: counted in the metric only once committed. */
  private uncommittedExpired = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly epoch: number,
    startOffset: number,
    private readonly deps: ActorDeps,
  ) {
    this.committedOffset = startOffset;
    this.nextOffset = startOffset;
    this.recent = new RecentIds(deps.limits.recentIdsBusyBytes);
  }

  get pending(): number {
    return this.pendingEvents;
  }

  /** The lifecycle's state for the metrics; null without a `lifecycle:` block. */
  get lifecycle(): { clock: number | null; openLots: number; expiryBacklog: boolean } | null {
    if (!this.lifecycleOn) return null;
    const c = this.lots.clock;
    return { clock: Number.isFinite(c) ? c : null, openLots: this.lots.openLots, expiryBacklog: this.lots.backlog };
  }

  /** What the actor did since the last call: one task's counts and flush, handed back with its result. */
  takeTally(): TaskTally {
    const t = this.tally;
    this.tally = new TaskTally();
    t.recentIds = { busyBytes: this.recent.memoryOnlyBytes, givenUp: this.recent.takeGivenUp() };
    return t;
  }

  /** Applies a batch, then commits if told to (the main thread's flush policy decides). Returns 'fenced' if the flush found another owner. */
  async process(batch: PackedBatch, flushAfter = false): Promise<'ok' | 'fenced'> {
    // One Buffer over the whole batch: keys decode without a view each, values get one view each.
    const buf = Buffer.from(batch.bytes);
    const spans = batch.spans;
    const { limits } = this.deps;
    // One rules version per batch, even if a reload lands while it waits on Postgres.
    const rules = this.deps.rules();
    const rulesId = await this.retrying('record rules version', () => rulesVersionId(this.deps.pool, rules.version));
    this.rulesId = rulesId;
    if (
      (rules.lifecycle !== null) !== this.lifecycleOn &&
      (await this.switchLifecycle(rules.lifecycle !== null)) === 'fenced'
    )
      return 'fenced';
    if (this.lifecycleOn && !this.lots.loaded) await this.loadClock();
    const decodeLimits: DecodeLimits = { maxMessageBytes: limits.maxMessageBytes, maxAmount: rules.maxAmount };
    // Parallel arrays, not an object per message: this loop runs for every event.
    // null: a clock tick, not an event.
    const results: (DecodeResult | null)[] = [];
    const indices: number[] = [];
    const missing = new Set<string>();
    let earliestMs = Infinity;
    const at = { topic: this.topic, partition: this.partition, offset: 0, key: null as string | null };
    for (let i = 0; i < batch.count; i++) {
      const offset = batch.offsets[i]!;
      if (offset < this.nextOffset) continue; // already applied (a redelivery after a seek)
      if (isTick(batch, i)) {
        results.push(null);
        indices.push(i);
        continue;
      }
      const kLen = spans[i * 4 + 1]!;
      const vLen = spans[i * 4 + 3]!;
      at.offset = offset;
      at.key = kLen < 0 ? null : buf.toString('utf8', spans[i * 4]!, spans[i * 4]! + kLen);
      const value = vLen < 0 ? null : buf.subarray(spans[i * 4 + 2]!, spans[i * 4 + 2]! + vLen);
      const r = decodeEvent(value, at, decodeLimits);
      if (r.ok) {
        const e = r.event;
        if (this.users.slotOf(e.userId) === undefined) missing.add(e.userId);
        if (e.timestampMs < earliestMs) earliestMs = e.timestampMs;
      }
      results.push(r);
      indices.push(i);
    }
    if (missing.size > 0) await this.loadMissing([...missing], earliestMs);
    const hashes = idHashes(results);
    // One clock for the batch: factsToLoad's judgement of event times must be the one apply makes.
    const nowMs = Date.now();
    await this.loadFacts(this.factsToLoad(results, hashes, rules, nowMs));

    const view = new Uint8Array(batch.bytes);
    for (let j = 0; j < results.length; j++) {
      const r = results[j]!;
      const i = indices[j]!;
      const offset = batch.offsets[i]!;
      if (r === null) {
        this.tick(valueAt(batch, view, i), nowMs, rules);
      } else if (r.ok) {
        const e = r.event;
        const refused = this.timeRefusal(e, nowMs) ?? this.apply(e, offset, rules, rulesId, hashes[j]!);
        if (refused !== null)
          this.deadLetter(
            offset,
            refused,
            refusalDetail(refused, e),
            keyAt(batch, view, i),
            valueAt(batch, view, i),
            e.type,
          );
      } else {
        this.deadLetter(offset, r.reason, r.detail, keyAt(batch, view, i), valueAt(batch, view, i), 'invalid');
      }
      this.pendingEvents++;
      this.nextOffset = offset + 1;
    }
    if (flushAfter && (await this.flush()) === 'fenced') return 'fenced';
    this.evict();
    return 'ok';
  }

  private deadLetter(
    offset: number,
    reason: string,
    detail: string,
    key: Uint8Array | null,
    value: Uint8Array | null,
    type: string,
  ): void {
    this.deadLetters.append(
      copyRow([
        copyText(this.topic),
        String(this.partition),
        String(offset),
        reason,
        copyText(detail),
        copyBytea(key),
        copyBytea(value),
      ]),
    );
    this.tally.deadLetter(reason);
    this.tally.event(type, 'dead_lettered');
  }

  /**
   * The (user, event id) pairs Postgres must be asked about: given ids (duplicates) and the purchases
   * refunds name, except those memory already answers (pending since the last flush, or applied earlier
   * in this batch) and those of users Postgres holds no ledger rows for. A purchase the recent-ids
   * summary places on known days is asked about over those days first (a few partitions, not the
   * refund window's 180).
   */
  private factsToLoad(results: (DecodeResult | null)[], hashes: Int32Array, rules: RuleSet, nowMs: number): FactsQuery {
    const q: FactsQuery = {
      duplicates: { users: [], ids: [], atMs: [], windowMs: rules.idempotencyWindowMs },
      recentDuplicates: {
        users: [],
        ids: [],
        atMs: [],
        windowMs: rules.idempotencyWindowMs,
        days: [Infinity, -Infinity],
      },
      purchases: { users: [], ids: [], atMs: [], windowMs: rules.refundWindowMs },
      recentPurchases: { users: [], ids: [], atMs: [], windowMs: rules.refundWindowMs, days: [Infinity, -Infinity] },
    };
    // Per pair and UTC day: the same id at two times of a batch needs both windows read.
    const seen = [new Set<string>(), new Set<string>()];
    const add = (
      userId: string,
      eventId: string,
      atMs: number,
      refund: boolean,
      s: number,
      duplicateDays: [number, number] | null = null,
    ): void => {
      const k = eventKey(userId, eventId);
      // Memory answers: a pending purchase for a refund, a pending occurrence within the window for an id.
      if (refund ? this.pendingPurchases.has(k) : this.pendingWithin(k, atMs, q.duplicates.windowMs)) return;
      const done = seen[refund ? 1 : 0]!;
      const kd = `${k}\u0000${Math.floor(atMs / DAY_MS)}`;
      if (done.has(kd)) return;
      done.add(kd);
      let l = refund ? q.purchases : q.duplicates;
      const days = refund ? this.recent.daysOf(s, idHash(userId, eventId)) : duplicateDays;
      if (days !== null) {
        const near = refund ? q.recentPurchases : q.recentDuplicates;
        near.days[0] = Math.min(near.days[0], days[0]);
        near.days[1] = Math.max(near.days[1], days[1]);
        l = near;
      }
      l.users.push(userId);
      l.ids.push(eventId);
      l.atMs.push(atMs);
    };
    // Purchases earlier in this batch that will certainly be applied (in time, and no earlier occurrence in memory
    // or, by the summary, in the ledger): a refund naming one finds it pending when it is applied. Without this, a
    // refund soon after its purchase asked the ledger over its whole refund window, then everywhere (OUTSIDE_SQL).
    const applying = new Set<string>();
    for (let j = 0; j < results.length; j++) {
      const r = results[j]!;
      if (r === null || !r.ok) continue;
      const e = r.event;
      const s = this.users.slotOf(e.userId)!;
      if (this.users.inPostgres[s] === 0) continue;
      if (e.originalEventId !== undefined && !applying.has(eventKey(e.userId, e.originalEventId)))
        add(e.userId, e.originalEventId, e.timestampMs, true, s);
      if (!e.eventIdGiven) continue;
      const days = this.recent.lookupDays(s, hashes[j]!, e.timestampMs, rules.idempotencyWindowMs);
      if (days !== null) {
        add(e.userId, e.eventId, e.timestampMs, false, s, days === 'window' ? null : days);
      } else if (e.type === 'purchase' && this.timeRefusal(e, nowMs) === null) {
        const k = eventKey(e.userId, e.eventId);
        if (!this.pendingWithin(k, e.timestampMs, rules.idempotencyWindowMs)) applying.add(k);
      }
    }
    return q;
  }

  /** One round trip for the pairs memory cannot answer (see factsToLoad). */
  private async loadFacts(q: FactsQuery): Promise<void> {
    if (
      q.duplicates.users.length === 0 &&
      q.recentDuplicates.users.length === 0 &&
      q.purchases.users.length === 0 &&
      q.recentPurchases.users.length === 0
    ) {
      this.facts = new Map();
      this.outsideWindow = new Set();
      return;
    }
    const loaded = await this.retrying('load event facts', () => loadEventFacts(this.deps.pool, q));
    this.facts = loaded.facts;
    this.outsideWindow = loaded.outsideWindow;
    for (const [k, v] of loaded.refunds) if (!this.refundTotals.has(k)) this.refundTotals.set(k, v);
  }

  /** An occurrence of this id recorded since the last flush lies within the window (the same rule as the ledger's). */
  private pendingWithin(key: string, atMs: number, windowMs: number): boolean {
    const times = this.pendingIds.get(key);
    if (times === undefined) return false;
    for (const t of times) if (Math.abs(atMs - t) <= windowMs) return true;
    return false;
  }

  /** True when an earlier occurrence of this user's event id lies within the window. */
  private isDuplicate(event: LoyaltyEvent, key: string, windowMs: number): boolean {
    if (this.pendingWithin(key, event.timestampMs, windowMs)) return true;
    const earlier = this.facts.get(key);
    if (earlier === undefined) return false;
    for (const f of earlier) if (Math.abs(event.timestampMs - f.eventTimeMs) <= windowMs) return true;
    return false;
  }

  /** The purchase a refund names, or why there is none to refund: unknown, or further from the refund than refund_window. */
  private purchaseFor(
    refund: LoyaltyEvent,
    windowMs: number,
  ): (PurchaseRecord & { eventTimeMs: number }) | 'unknown_purchase' | 'refund_window_passed' {
    const originalEventId = refund.originalEventId ?? '';
    const key = eventKey(refund.userId, originalEventId);
    let base = this.pendingPurchases.get(key);
    if (base === undefined) {
      const f = this.facts.get(key)?.find((x) => x.eventType === 'purchase' && x.status === 'applied');
      if (f !== undefined) base = { amount: f.amount, points: f.points, eventTimeMs: f.eventTimeMs };
    }
    if (base === undefined) return this.outsideWindow.has(key) ? 'refund_window_passed' : 'unknown_purchase';
    if (Math.abs(refund.timestampMs - base.eventTimeMs) > windowMs) return 'refund_window_passed';
    const t = this.refundTotals.get(key);
    return {
      eventId: originalEventId,
      amount: base.amount,
      pointsEarned: base.points,
      pointsRefunded: t?.pointsRefunded ?? 0,
      amountRefunded: t?.amountRefunded ?? 0,
      eventTimeMs: base.eventTimeMs,
    };
  }

  /** `earliestMs`: the batch's earliest event time, where the summaries built at load must start covering. */
  private async loadMissing(userIds: string[], earliestMs: number): Promise<void> {
    const stored = await this.retrying('load users', () => loadUsers(this.deps.pool, userIds));
    const built = await this.buildRecentIds(stored, earliestMs);
    const addUser = (id: string, u: StoredUser | undefined): number => {
      const s = this.users.add(id, u);
      this.recent.load(s, u && { from: u.recentFrom, ids: u.recentIds });
      const b = built.get(id);
      if (b !== undefined) this.recent.loadBuilt(s, b.from, b.ids);
      return s;
    };
    if (!this.lifecycleOn) {
      for (const id of userIds) addUser(id, stored.get(id));
      return;
    }
    // Lots load with their users: the balance and the lots are one state (debt = lots - balance).
    const lots = await this.retrying('load lots', () => loadLots(this.deps.pool, userIds));
    for (const id of userIds) {
      const u = stored.get(id);
      const s = addUser(id, u);
      this.lots.adopt(s, lots.get(id), u?.balance ?? 0);
      // Lots due at the clock may still wait in Postgres (the SQL expiry is bounded): expire them here,
      // at once, so the rows and deletes go with this user's changes and the SQL expiry never sees them.
      if (this.lots.settle(s) > 0) this.writeExpiry(s, this.lots.rows, this.users.lastOffset[s]!, this.rulesId);
    }
  }

  /**
   * Summaries read from the ledger for users whose balance row has none: written before sql/007, or too busy
   * to keep theirs there (RECENT_IDS_OFF, kept in memory only by their last owner). Without this a new owner
   * (after a restart or a rebalance) sent every check of a busy user to the ledger. They start one window and a
   * day before the batch's earliest event (or today, if earlier), so that its checks are covered; an event
   * older than that asks the ledger, as the summary's start says. Not `keepDays` (three windows) back, as a
   * summary built event by event keeps: a new owner reads this for every busy user it loads (in the soak, half of
   * all rows are theirs), so the read is kept to the days its checks need. As far back as entries' 7-bit day
   * offsets reach rows written up to LEDGER_FUTURE_LIMIT ahead.
   */
  private async buildRecentIds(
    stored: Map<string, StoredUser>,
    earliestMs: number,
  ): Promise<Map<string, { from: number; ids: Buffer }>> {
    const without = [...stored]
      .filter(([, u]) => u.recentFrom === null || u.recentFrom === RECENT_IDS_OFF)
      .map(([id]) => id);
    const out = new Map<string, { from: number; ids: Buffer }>();
    if (without.length === 0) return out;
    const back = Math.ceil(this.deps.rules().idempotencyWindowMs / DAY_MS) + 1;
    const today = utcDay(Date.now());
    const latest = today + Math.ceil(this.deps.limits.ledgerFutureMs / DAY_MS) + 1;
    const from = Math.max(Math.min(today, utcDay(earliestMs)) - back, latest - MAX_DAY_OFFSET);
    const read = await this.retrying('read recent ids', () => readRecentIds(this.deps.pool, without, from));
    for (const id of without) out.set(id, { from, ids: read.get(id) ?? Buffer.alloc(0) });
    return out;
  }

  /**
   * The block was turned on or off: commit what is pending under the old mode, then drop the held
   * users so that each is loaded again with (or without) its lots.
   */
  private async switchLifecycle(on: boolean): Promise<'ok' | 'fenced'> {
    if ((await this.flush()) === 'fenced') return 'fenced';
    this.users.clear();
    this.recent.clear();
    this.lots.reset();
    this.lifecycleOn = on;
    return 'ok';
  }

  private async loadClock(): Promise<void> {
    const { pool } = this.deps;
    const [pos, open] = await this.retrying('load partition clock', () =>
      Promise.all([readLifecyclePosition(pool, this.topic, this.partition), countLots(pool, this.partition)]),
    );
    const clock = pos?.clock ?? null;
    // A previous owner may have left lots due at the stored clock: expiring them starts with the next flush.
    const due =
      clock !== null && (await this.retrying('look for due lots', () => hasDueLots(pool, this.partition, clock)));
    this.lots.load(clock, open, pos?.seq ?? 0, due);
  }

  /**
   * Writes a user's expire rows (one per expiry moment, ascending) at `offset`, lowering the balance.
   * Expiry the clock reached before an event goes at the user's previous event's offset (its latest
   * row), a late event's own lot at the event's offset: either way no other row of the user there
   * has the same event time, which the ledger's unique index needs.
   */
  private writeExpiry(s: number, rows: ExpiryRows, offset: number, rulesId: number): void {
    const t = this.users;
    const userId = t.ids[s]!;
    for (let i = 0; i < rows.length; i++) {
      const at = rows.at(i);
      const points = rows.points(i);
      t.balance[s]! -= points;
      t.deltaPoints[s]! -= points;
      this.uncommittedExpired += points;
      this.ledger.append(
        `${new Date(at).toISOString()}\t${offset}\t${-points}\t${t.balance[s]}\t${this.partition}\t${rulesId}\texpire\tapplied\t${userId}\t${EXPIRE_EVENT_ID}\t${COPY_NULL}\t${COPY_NULL}\t${COPY_NULL}\n`,
      );
      this.ledgerDays.add(utcDay(at));
    }
    this.lastLedgerDay = NaN;
    this.markDirty(s);
  }

  private markDirty(s: number): void {
    const t = this.users;
    if (t.dirty[s] === 0) {
      t.dirty[s] = 1;
      this.dirtyUsers.push(s);
    }
  }

  /**
   * A clock tick moves the clock like an event (under a `lifecycle:` block; without one it is
   * skipped). It is never an event nor a dead letter: it only advances the offset. A tick further
   * ahead than an event may be is ignored, as that event would be refused.
   */
  private tick(value: Uint8Array | null, nowMs: number, rules: RuleSet): void {
    if (rules.lifecycle === null) return;
    const ms = tickTime(value);
    if (ms !== null && ms <= nowMs + this.deps.limits.ledgerFutureMs) this.lots.advance(ms);
  }

  /** Why an event's time is refused (a dead letter), or null: its ledger row must fit the partitions retention keeps. */
  private timeRefusal(e: LoyaltyEvent, nowMs: number): 'event_too_old' | 'event_too_far_ahead' | null {
    const { ledgerRetentionMs, ledgerFutureMs } = this.deps.limits;
    if (e.timestampMs < nowMs - ledgerRetentionMs) return 'event_too_old';
    if (e.timestampMs > nowMs + ledgerFutureMs) return 'event_too_far_ahead';
    return null;
  }

  /** Applies one event to its user; returns null, or the reason a refund is a dead letter (no purchase to take back from). */
  private apply(
    event: LoyaltyEvent,
    offset: number,
    rules: RuleSet,
    rulesId: number,
    hash: number,
  ): 'unknown_purchase' | 'refund_window_passed' | null {
    const t = this.users;
    const s = t.slotOf(event.userId)!;
    const key = event.eventIdGiven ? eventKey(event.userId, event.eventId) : '';
    const lc = rules.lifecycle;
    if (lc !== null) {
      // The partition's now moves first; then the user's lots expired at it expire, before the event sees them.
      this.lots.advance(event.timestampMs);
      if (this.lots.settle(s) > 0) this.writeExpiry(s, this.lots.rows, t.lastOffset[s]!, rulesId);
      this.lots.late.reset();
    }
    let status: 'applied' | 'rejected' | 'duplicate';
    let points = 0;
    let reason: string = COPY_NULL;
    if (event.eventIdGiven && this.isDuplicate(event, key, rules.idempotencyWindowMs)) {
      status = 'duplicate';
      reason = 'repeated_event_id';
    } else {
      const day = localDayNumber(event.timestampMs, event.utcOffsetMinutes);
      const st = this.scratch;
      // With lots, the rules judge what is spendable at the partition's clock (pending points are not).
      st.balance = lc === null ? t.balance[s]! : (this.lots.existing(s)?.spendableAt(this.lots.clock) ?? 0);
      st.lifetimeEarned = t.lifetimeEarned[s]!;
      st.earnedToday = day === t.earnedDay[s] ? t.earnedToday[s]! : 0;
      const found = event.type === 'refund' ? this.purchaseFor(event, rules.refundWindowMs) : undefined;
      if (typeof found === 'string') return found;
      const purchase = found;
      const outcome = rules.evaluate(event, st, purchase);
      if (outcome.kind === 'rejected' && outcome.reason === 'unknown_purchase') return 'unknown_purchase';
      if (outcome.kind === 'applied') {
        status = 'applied';
        points = outcome.delta;
        t.balance[s]! += outcome.delta;
        t.deltaPoints[s]! += outcome.delta;
        t.lifetimeEarned[s]! += outcome.earnedDelta;
        t.deltaEarned[s]! += outcome.earnedDelta;
        // Only earning counts towards the per-day cap; clawbacks do not give cap room back.
        if (outcome.earnedDelta > 0 && day >= t.earnedDay[s]!) {
          if (day > t.earnedDay[s]!) {
            t.earnedDay[s] = day;
            t.earnedToday[s] = 0;
          }
          t.earnedToday[s]! += outcome.earnedDelta;
        }
        if (event.type === 'purchase' && event.eventIdGiven)
          this.pendingPurchases.set(key, {
            amount: event.amount,
            points: outcome.delta,
            eventTimeMs: event.timestampMs,
          });
        if (lc !== null)
          applyToLots(
            this.lots.bookOf(s),
            lc,
            event.type,
            event.timestampMs,
            outcome.delta,
            this.lots.clock,
            purchase?.eventTimeMs,
            event.expiresAtMs,
            this.lots.late,
          );
        if (event.type === 'refund' && purchase !== undefined) {
          this.refundTotals.set(eventKey(event.userId, purchase.eventId), {
            amountRefunded: purchase.amountRefunded + event.amount,
            pointsRefunded: purchase.pointsRefunded - outcome.delta,
          });
        }
      } else {
        status = 'rejected';
        reason = copyText(outcome.reason);
      }
      if (event.eventIdGiven) {
        const times = this.pendingIds.get(key);
        if (times === undefined) this.pendingIds.set(key, [event.timestampMs]);
        else times.push(event.timestampMs);
      }
      this.recent.add(s, hash, event.timestampMs, rules.idempotencyWindowMs);
    }
    // Every event marks its user, so a user seen only through rejected events still has a (zero) balance row.
    this.markDirty(s);
    t.lastOffset[s] = offset;
    // Columns in LEDGER_COLUMNS order (fixed-width first, see sql/003).
    this.ledger.append(
      `${event.timestamp}\t${offset}\t${points}\t${t.balance[s]}\t${this.partition}\t${rulesId}\t${event.type}\t${status}\t${event.userId}\t${copyText(event.eventId)}\t${event.amount}\t${copyText(event.originalEventId)}\t${reason}\n`,
    );
    const day = utcDay(event.timestampMs);
    if (day !== this.lastLedgerDay) {
      this.ledgerDays.add(day);
      this.lastLedgerDay = day;
    }
    // A late event's lot already expired at the clock: its expire row follows the event's own.
    if (lc !== null && this.lots.late.length > 0) this.writeExpiry(s, this.lots.late, offset, rulesId);
    this.tally.event(event.type, status);
    return null;
  }

  /** Commits everything pending with the new offset; on a fence, drops all state and starts over at the stored offset. */
  async flush(): Promise<'ok' | 'fenced'> {
    // Due lots left in Postgres, or held users left to settle: a flush without events still does the next share.
    const backlog = this.lifecycleOn && this.lots.loaded && this.lots.backlog;
    if (this.nextOffset === this.committedOffset && this.pendingEvents === 0 && !backlog) return 'ok';
    const started = performance.now();
    const t = this.users;
    const lifecycle = this.lifecycleOn ? this.lifecycleFlush() : undefined;
    const deltas: string[] = [];
    for (const s of this.dirtyUsers) {
      deltas.push(
        `${t.ids[s]}\t${t.deltaPoints[s]}\t${t.deltaEarned[s]}\t${t.earnedDay[s]}\t${t.earnedToday[s]}\t${t.lastOffset[s]}\t${this.recent.flushColumns(s)}\n`,
      );
    }
    const batch: FlushBatch = {
      topic: this.topic,
      partition: this.partition,
      expectedOffset: this.committedOffset,
      newOffset: this.nextOffset,
      owner: this.deps.owner,
      deltas: deltas.join(''),
      ledger: this.ledger.bytes(),
      ledgerDays: [...this.ledgerDays],
      deadLetters: this.deadLetters.bytes(),
      refunds: [...this.refundTotals].map(([k, t]) => {
        const [userId = '', eventId = ''] = k.split('\u0000');
        return { userId, eventId, ...t };
      }),
      ...(lifecycle !== undefined && { lifecycle: lifecycle.flush }),
    };
    const outcome = await this.commitResolvingAmbiguity(batch);
    if (outcome.kind === 'fenced') {
      // Nothing of this flush was written: its expiry happens again (once) under whoever owns the partition.
      this.reset(outcome.storedOffset ?? 0);
      return 'fenced';
    }
    this.tally.flush = {
      seconds: (performance.now() - started) / 1000,
      events: this.pendingEvents,
      users: this.dirtyUsers.length,
    };
    for (const s of this.dirtyUsers) {
      t.markFlushed(s);
      this.recent.committed(s);
    }
    if (lifecycle !== undefined) {
      const k = this.lots;
      for (const s of this.dirtyUsers) k.committed(s);
      k.committedClock = lifecycle.flush.clock;
      k.seq++;
      if (lifecycle.flush.expireUnheld && outcome.expired === undefined) {
        // Committed, but the connection died around COMMIT: what the SQL expiry did is unknown. Count
        // the lots again, and flush once more to see whether any are still due.
        k.openLots = await this.retrying('count lots', () => countLots(this.deps.pool, this.partition));
        k.backlog = true;
      } else {
        k.openLots += lifecycle.opened - (outcome.expired?.lots ?? 0);
        // Held users left to settle: their due lots wait, and so does the SQL expiry (it runs once the scan ends).
        k.backlog = k.scanning || (outcome.expired?.more ?? false);
      }
      this.tally.expiredPoints += this.uncommittedExpired + (outcome.expired?.points ?? 0);
      this.tally.releasedPoints += outcome.released ?? 0;
      this.uncommittedExpired = 0;
    }
    this.dirtyUsers = [];
    this.ledger.reset();
    this.deadLetters.reset();
    this.clearPendingFacts();
    this.pendingEvents = 0;
    this.committedOffset = batch.newOffset;
    return 'ok';
  }

  /**
   * The lifecycle's part of a flush. When a midnight passed, held users are settled at the clock, a
   * bounded share per flush (EXPIRY_BATCH_LOTS expired lots, whole users), flush after flush until all
   * are. A held user not yet settled keeps in Postgres the lots and balance last written (the API
   * leaves due lots out), and is settled before any event of its own anyway. The SQL expiry of users
   * not held runs only once every held user is settled and its deletes written (in this flush, before
   * the statement, or earlier): before that it would find held users' due lots and expire them twice.
   */
  private lifecycleFlush(): { flush: LifecycleFlush; opened: number } {
    const t = this.users;
    const k = this.lots;
    const bound = this.deps.limits.expiryBatchLots ?? DEFAULT_EXPIRY_BATCH_LOTS;
    const settled =
      !k.needsScan() ||
      k.scan((s) => {
        if (t.ids[s] === '' || t.ids[s] === undefined) {
          k.forget(s);
          return 0;
        }
        if (k.settle(s) > 0) this.writeExpiry(s, k.rows, t.lastOffset[s]!, this.rulesId);
        return k.rows.lots;
      }, bound);
    const changes = new LotChanges();
    let opened = 0;
    for (const s of this.dirtyUsers) opened += k.collect(s, t.ids[s]!, changes);
    const crossed = k.crossedSinceCommit();
    const pendingLots = (this.deps.rules().lifecycle?.pendingMs ?? 0) > 0;
    return {
      flush: {
        clock: k.clock,
        seq: k.seq,
        lots: changes,
        expireUnheld: settled && k.needsSqlExpiry(),
        maxExpiryLots: bound,
        rulesVersionId: this.rulesId,
        // Once per midnight passed, not per flush of a backlog (counted whether or not the SQL expiry runs).
        countReleasedSince: crossed && pendingLots && Number.isFinite(k.committedClock) ? k.committedClock : null,
      },
      opened,
    };
  }

  /**
   * Retries until Postgres answers. When a commit's outcome is unknown (the connection
   * died around COMMIT), the stored offset tells: our new offset means it committed; our
   * expected offset means it did not (retry); anything else means another owner wrote.
   */
  private async commitResolvingAmbiguity(batch: FlushBatch): Promise<FlushOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await flushToPostgres(this.deps.pool, batch);
      } catch (e) {
        this.deps.onRetry(`flush ${this.topic}/${this.partition}`, e, attempt);
        await sleep(backoffMs(attempt, { baseMs: 100 }));
        const lc = batch.lifecycle;
        if (lc !== undefined) {
          // A lifecycle flush may move no offset (expiry only): lifecycle_seq tells whether it committed.
          const pos = await this.retrying(`read offset ${this.topic}/${this.partition}`, () =>
            readLifecyclePosition(this.deps.pool, batch.topic, batch.partition),
          );
          if (pos?.offset === batch.newOffset && pos.seq === lc.seq + 1) return { kind: 'committed' };
          if (pos?.offset !== batch.expectedOffset || pos.seq !== lc.seq)
            return { kind: 'fenced', storedOffset: pos?.offset ?? null };
          continue;
        }
        const stored = await this.retrying(`read offset ${this.topic}/${this.partition}`, () =>
          readStoredOffset(this.deps.pool, batch.topic, batch.partition),
        );
        if (stored === batch.newOffset) return { kind: 'committed' };
        if (stored !== batch.expectedOffset) return { kind: 'fenced', storedOffset: stored };
      }
    }
  }

  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        this.deps.onRetry(what, e, attempt);
        await sleep(backoffMs(attempt, { baseMs: 100 }));
      }
    }
  }

  /** After a commit (or a reset) Postgres is the memory: these only cover what it did not have. */
  private clearPendingFacts(): void {
    this.ledgerDays.clear();
    this.lastLedgerDay = NaN;
    this.pendingIds.clear();
    this.pendingPurchases.clear();
    this.refundTotals.clear();
  }

  private reset(offset: number): void {
    this.clearPendingFacts();
    this.users.clear();
    this.recent.clear();
    this.lots.reset();
    this.uncommittedExpired = 0;
    this.dirtyUsers = [];
    this.ledger.reset();
    this.deadLetters.reset();
    this.pendingEvents = 0;
    this.committedOffset = offset;
    this.nextOffset = offset;
  }

  /** Keeps the cache bounded: drops the oldest clean users; dirty ones stay until flushed. */
  private evict(): void {
    const cap = this.deps.limits.cacheUsers;
    if (this.users.size > cap)
      this.users.evictClean(Math.floor(cap * 0.9), (s) => {
        this.recent.forget(s);
        if (this.lifecycleOn) this.lots.forget(s);
      });
  }
}

/** Each decoded event's id hash for the recent-ids summary (0 where none), computed once per batch. */
function idHashes(results: (DecodeResult | null)[]): Int32Array {
  const out = new Int32Array(results.length);
  for (let j = 0; j < results.length; j++) {
    const r = results[j];
    if (r?.ok === true) out[j] = idHash(r.event.userId, r.event.eventId);
  }
  return out;
}

function refusalDetail(reason: string, e: LoyaltyEvent): string {
  switch (reason) {
    case 'unknown_purchase':
      return `refund names purchase "${e.originalEventId ?? ''}", which this user does not have`;
    case 'refund_window_passed':
      return `refund names purchase "${e.originalEventId ?? ''}", which lies further from the refund than refund_window`;
    case 'event_too_old':
      return `event time ${e.timestamp} is older than LEDGER_RETENTION: its ledger row would already be dropped`;
    default:
      return `event time ${e.timestamp} is further ahead of the clock than LEDGER_FUTURE_LIMIT`;
  }
}
