import type pg from 'pg';
import { decodeEvent, type DecodeLimits, type DecodeResult } from '../events/decode.js';
import type { LoyaltyEvent } from '../events/event.js';
import type { RuleSet } from '../rules/index.js';
import type { PurchaseRecord, UserState } from '../rules/types.js';
import { eventKey, loadEventFacts, type FactsQuery, type LedgerFact, type RefundTotals } from '../store/event-facts.js';
import { CopyBuffer } from '../store/copy-buffer.js';
import { copyBytea, copyRow, copyText, COPY_NULL } from '../store/copy-text.js';
import { flushToPostgres, loadUsers, readStoredOffset, type FlushBatch, type FlushOutcome } from '../store/flush.js';
import { keyAt, valueAt, type PackedBatch } from './batch-codec.js';
import { UserTable } from './user-table.js';
import type { Counts, FlushStats } from './protocol.js';

export interface ActorLimits {
  maxMessageBytes: number;
  flushMaxEvents: number;
  cacheUsers: number;
}

export interface ActorDeps {
  pool: pg.Pool;
  /** The rules in force now (they may be reloaded between batches). */
  rules: () => RuleSet;
  limits: ActorLimits;
  owner: string;
  onRetry: (what: string, error: unknown, attempt: number) => void;
}

const DAY_MS = 86_400_000;

/** The `type:outcome` keys of the event counts, built once each (this runs for every event). */
const countKeys = new Map<string, Record<string, string>>();
function countKey(type: string, outcome: string): string {
  let byOutcome = countKeys.get(type);
  if (byOutcome === undefined) countKeys.set(type, (byOutcome = {}));
  return (byOutcome[outcome] ??= `${type}:${outcome}`);
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
  private readonly scratch: UserState = { balance: 0, lifetimeEarned: 0, earnedToday: 0 };
  /** Given event ids applied since the last flush (Postgres does not have them yet): the duplicate check's memory. */
  private pendingIds = new Set<string>();
  /** Purchases applied since the last flush, for refunds that follow them before a flush. */
  private pendingPurchases = new Map<string, { amount: number; points: number }>();
  /** Refund totals per purchase, changed since the last flush (absolute values). */
  private refundTotals = new Map<string, RefundTotals>();
  /** What the ledger said about this batch's event ids (filled per batch). */
  private facts = new Map<string, LedgerFact[]>();

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly epoch: number,
    startOffset: number,
    private readonly deps: ActorDeps,
  ) {
    this.committedOffset = startOffset;
    this.nextOffset = startOffset;
  }

  get pending(): number {
    return this.pendingEvents;
  }

  /** Applies a batch; flushes when enough is pending. Returns 'fenced' if a flush found another owner. */
  async process(batch: PackedBatch, events: Counts, dead: Counts, flushes: FlushStats[]): Promise<'ok' | 'fenced'> {
    // One Buffer over the whole batch: keys decode without a view each, values get one view each.
    const buf = Buffer.from(batch.bytes);
    const spans = batch.spans;
    const { limits } = this.deps;
    // One rules version per batch, even if a reload lands while it waits on Postgres.
    const rules = this.deps.rules();
    const decodeLimits: DecodeLimits = { maxMessageBytes: limits.maxMessageBytes, maxAmount: rules.maxAmount };
    // Parallel arrays, not an object per message: this loop runs for every event.
    const results: DecodeResult[] = [];
    const indices: number[] = [];
    const missing = new Set<string>();
    const at = { topic: this.topic, partition: this.partition, offset: 0, key: null as string | null };
    for (let i = 0; i < batch.count; i++) {
      const offset = batch.offsets[i]!;
      if (offset < this.nextOffset) continue; // already applied (a redelivery after a seek)
      const kLen = spans[i * 4 + 1]!;
      const vLen = spans[i * 4 + 3]!;
      at.offset = offset;
      at.key = kLen < 0 ? null : buf.toString('utf8', spans[i * 4]!, spans[i * 4]! + kLen);
      const value = vLen < 0 ? null : buf.subarray(spans[i * 4 + 2]!, spans[i * 4 + 2]! + vLen);
      const r = decodeEvent(value, at, decodeLimits);
      if (r.ok) {
        const e = r.event;
        if (this.users.slotOf(e.userId) === undefined) missing.add(e.userId);
      }
      results.push(r);
      indices.push(i);
    }
    if (missing.size > 0) await this.loadMissing([...missing]);
    await this.loadFacts(this.factsToLoad(results));

    const view = new Uint8Array(batch.bytes);
    for (let j = 0; j < results.length; j++) {
      const r = results[j]!;
      const i = indices[j]!;
      const offset = batch.offsets[i]!;
      if (r.ok) {
        if (this.apply(r.event, offset, rules, events)) {
          const detail = `refund names purchase "${r.event.originalEventId ?? ''}", which this user does not have`;
          this.deadLetter(offset, 'unknown_purchase', detail, keyAt(batch, view, i), valueAt(batch, view, i), dead, events, r.event.type);
        }
      } else {
        this.deadLetter(offset, r.reason, r.detail, keyAt(batch, view, i), valueAt(batch, view, i), dead, events, 'invalid');
      }
      this.pendingEvents++;
      this.nextOffset = offset + 1;
    }
    if (this.pendingEvents >= limits.flushMaxEvents) {
      const r = await this.flush(flushes);
      if (r === 'fenced') return 'fenced';
    }
    this.evict();
    return 'ok';
  }

  private deadLetter(offset: number, reason: string, detail: string, key: Uint8Array | null, value: Uint8Array | null, dead: Counts, events: Counts, type: string): void {
    this.deadLetters.append(copyRow([copyText(this.topic), String(this.partition), String(offset), reason, copyText(detail), copyBytea(key), copyBytea(value)]));
    dead[reason] = (dead[reason] ?? 0) + 1;
    const k = countKey(type, 'dead_lettered');
    events[k] = (events[k] ?? 0) + 1;
  }

  /**
   * The (user, event id) pairs Postgres must be asked about: given ids (duplicates) and the purchases
   * refunds name, except those memory already answers (pending since the last flush) and those of
   * users Postgres holds no ledger rows for.
   */
  private factsToLoad(results: DecodeResult[]): FactsQuery {
    const q: FactsQuery = { users: [], ids: [], refundUsers: [], refundIds: [] };
    const seen = new Set<string>();
    const add = (userId: string, eventId: string, refund: boolean): void => {
      const k = eventKey(userId, eventId);
      if (this.pendingIds.has(k)) return; // pending purchases are in pendingIds too
      if (refund) {
        q.refundUsers.push(userId);
        q.refundIds.push(eventId);
      }
      if (seen.has(k)) return;
      seen.add(k);
      q.users.push(userId);
      q.ids.push(eventId);
    };
    for (const r of results) {
      if (!r.ok) continue;
      const e = r.event;
      if (this.users.inPostgres[this.users.slotOf(e.userId)!] === 0) continue;
      if (e.eventIdGiven) add(e.userId, e.eventId, false);
      if (e.originalEventId !== undefined) add(e.userId, e.originalEventId, true);
    }
    return q;
  }

  /** One round trip for the pairs memory cannot answer (see factsToLoad). */
  private async loadFacts(q: FactsQuery): Promise<void> {
    if (q.users.length === 0) {
      this.facts = new Map();
      return;
    }
    const loaded = await this.retrying('load event facts', () => loadEventFacts(this.deps.pool, q));
    this.facts = loaded.facts;
    for (const [k, v] of loaded.refunds) if (!this.refundTotals.has(k)) this.refundTotals.set(k, v);
  }

  /** True when an earlier occurrence of this user's event id lies within the window. */
  private isDuplicate(event: LoyaltyEvent, key: string, windowMs: number): boolean {
    if (this.pendingIds.has(key)) return true;
    const earlier = this.facts.get(key);
    if (earlier === undefined) return false;
    for (const f of earlier) if (Math.abs(event.timestampMs - f.eventTimeMs) <= windowMs) return true;
    return false;
  }

  private purchaseFor(userId: string, originalEventId: string): PurchaseRecord | undefined {
    const key = eventKey(userId, originalEventId);
    let base = this.pendingPurchases.get(key);
    if (base === undefined) {
      const f = this.facts.get(key)?.find((x) => x.eventType === 'purchase' && x.status === 'applied');
      if (f !== undefined) base = { amount: f.amount, points: f.points };
    }
    if (base === undefined) return undefined;
    const t = this.refundTotals.get(key);
    return { eventId: originalEventId, amount: base.amount, pointsEarned: base.points, pointsRefunded: t?.pointsRefunded ?? 0, amountRefunded: t?.amountRefunded ?? 0 };
  }

  private async loadMissing(userIds: string[]): Promise<void> {
    const stored = await this.retrying('load users', () => loadUsers(this.deps.pool, userIds));
    for (const id of userIds) this.users.add(id, stored.get(id));
  }

  /** Applies one event to its user; returns true when it is a refund of an unknown purchase (a dead letter). */
  private apply(event: LoyaltyEvent, offset: number, rules: RuleSet, events: Counts): boolean {
    const t = this.users;
    const s = t.slotOf(event.userId)!;
    const key = event.eventIdGiven ? eventKey(event.userId, event.eventId) : '';
    let status: 'applied' | 'rejected' | 'duplicate';
    let points = 0;
    let reason: string = COPY_NULL;
    if (event.eventIdGiven && this.isDuplicate(event, key, rules.idempotencyWindowMs)) {
      status = 'duplicate';
      reason = 'repeated_event_id';
    } else {
      const day = Math.floor((event.timestampMs + event.utcOffsetMinutes * 60_000) / DAY_MS);
      const st = this.scratch;
      st.balance = t.balance[s]!;
      st.lifetimeEarned = t.lifetimeEarned[s]!;
      st.earnedToday = day === t.earnedDay[s] ? t.earnedToday[s]! : 0;
      const purchase = event.type === 'refund' ? this.purchaseFor(event.userId, event.originalEventId ?? '') : undefined;
      const outcome = rules.evaluate(event, st, purchase);
      if (outcome.kind === 'rejected' && outcome.reason === 'unknown_purchase') return true;
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
        if (event.type === 'purchase' && event.eventIdGiven) this.pendingPurchases.set(key, { amount: event.amount, points: outcome.delta });
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
      if (event.eventIdGiven) this.pendingIds.add(key);
    }
    // Every event marks its user, so a user seen only through rejected events still has a (zero) balance row.
    if (t.dirty[s] === 0) {
      t.dirty[s] = 1;
      this.dirtyUsers.push(s);
    }
    t.lastOffset[s] = offset;
    this.ledger.append(
      `${copyText(this.topic)}\t${this.partition}\t${offset}\t${copyText(event.eventId)}\t${event.userId}\t${event.type}\t${points}\t${t.balance[s]}\t${status}\t${reason}\t${event.timestamp}\t${rules.version}\t${event.amount}\t${copyText(event.originalEventId)}\n`,
    );
    const k = countKey(event.type, status);
    events[k] = (events[k] ?? 0) + 1;
    return false;
  }

  /** Commits everything pending with the new offset; on a fence, drops all state and starts over at the stored offset. */
  async flush(flushes: FlushStats[]): Promise<'ok' | 'fenced'> {
    if (this.nextOffset === this.committedOffset && this.pendingEvents === 0) return 'ok';
    const started = performance.now();
    const deltas: string[] = [];
    const t = this.users;
    for (const s of this.dirtyUsers) {
      deltas.push(`${t.ids[s]}\t${t.deltaPoints[s]}\t${t.deltaEarned[s]}\t${t.earnedDay[s]}\t${t.earnedToday[s]}\t${t.lastOffset[s]}\n`);
    }
    const batch: FlushBatch = {
      topic: this.topic,
      partition: this.partition,
      expectedOffset: this.committedOffset,
      newOffset: this.nextOffset,
      owner: this.deps.owner,
      deltas: deltas.join(''),
      ledger: this.ledger.bytes(),
      deadLetters: this.deadLetters.bytes(),
      refunds: [...this.refundTotals].map(([k, t]) => {
        const [userId = '', eventId = ''] = k.split('\u0000');
        return { userId, eventId, ...t };
      }),
    };
    const outcome = await this.commitResolvingAmbiguity(batch);
    if (outcome.kind === 'fenced') {
      this.reset(outcome.storedOffset ?? 0);
      return 'fenced';
    }
    flushes.push({ seconds: (performance.now() - started) / 1000, events: this.pendingEvents, users: this.dirtyUsers.length });
    for (const s of this.dirtyUsers) {
      t.dirty[s] = 0;
      t.inPostgres[s] = 1;
      t.deltaPoints[s] = 0;
      t.deltaEarned[s] = 0;
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
        await sleep(backoffMs(attempt));
        const stored = await this.retrying(`read offset ${this.topic}/${this.partition}`, () => readStoredOffset(this.deps.pool, batch.topic, batch.partition));
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
        await sleep(backoffMs(attempt));
      }
    }
  }

  /** After a commit (or a reset) Postgres is the memory: these only cover what it did not have. */
  private clearPendingFacts(): void {
    this.pendingIds.clear();
    this.pendingPurchases.clear();
    this.refundTotals.clear();
  }

  private reset(offset: number): void {
    this.clearPendingFacts();
    this.users.clear();
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
    if (this.users.size > cap) this.users.evictClean(Math.floor(cap * 0.9));
  }
}

function backoffMs(attempt: number): number {
  return Math.min(5000, 50 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2);
}
