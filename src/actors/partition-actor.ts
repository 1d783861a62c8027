import type pg from 'pg';
import { decodeEvent, type DecodeLimits } from '../events/decode.js';
import type { LoyaltyEvent } from '../events/event.js';
import type { RuleSet } from '../rules/index.js';
import type { UserState } from '../rules/types.js';
import { copyBytea, copyRow, copyText, COPY_NULL } from '../store/copy-text.js';
import { flushToPostgres, loadUsers, readStoredOffset, type FlushBatch, type FlushOutcome } from '../store/flush.js';
import { keyAt, valueAt, type PackedBatch } from './batch-codec.js';
import type { Counts, FlushStats } from './protocol.js';

export interface ActorLimits extends DecodeLimits {
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

/** A user's state as the actor knows it: committed values plus what is pending. */
interface UserEntry {
  balance: number;
  lifetimeEarned: number;
  /** Local calendar day (days since epoch) that earnedToday counts. */
  earnedDay: number;
  earnedToday: number;
  dirty: boolean;
  deltaPoints: number;
  deltaEarned: number;
  lastOffset: number;
}

const DAY_MS = 86_400_000;
const keyDecoder = new TextDecoder('utf-8');
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
  private readonly users = new Map<string, UserEntry>();
  private dirtyUsers: string[] = [];
  private ledger: string[] = [];
  private deadLetters: string[] = [];
  private pendingEvents = 0;
  private readonly scratch: UserState = { balance: 0, lifetimeEarned: 0, earnedToday: 0 };

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
    const view = new Uint8Array(batch.bytes);
    const { limits } = this.deps;
    const decoded: (ReturnType<typeof decodeEvent> & { offset: number; key: Uint8Array | null; value: Uint8Array | null })[] = [];
    const missing = new Set<string>();
    for (let i = 0; i < batch.count; i++) {
      const offset = batch.offsets[i]!;
      if (offset < this.nextOffset) continue; // already applied (a redelivery after a seek)
      const key = keyAt(batch, view, i);
      const value = valueAt(batch, view, i);
      const r = decodeEvent(value, { topic: this.topic, partition: this.partition, offset, key: key === null ? null : keyDecoder.decode(key) }, limits);
      if (r.ok && !this.users.has(r.event.userId)) missing.add(r.event.userId);
      decoded.push({ ...r, offset, key, value });
    }
    if (missing.size > 0) await this.loadMissing([...missing]);

    const rules = this.deps.rules();
    for (const d of decoded) {
      if (d.ok) {
        this.apply(d.event, d.offset, rules, events);
      } else {
        this.deadLetters.push(
          copyRow([copyText(this.topic), String(this.partition), String(d.offset), d.reason, copyText(d.detail), copyBytea(d.key), copyBytea(d.value)]),
        );
        dead[d.reason] = (dead[d.reason] ?? 0) + 1;
        events['invalid:dead_lettered'] = (events['invalid:dead_lettered'] ?? 0) + 1;
      }
      this.pendingEvents++;
      this.nextOffset = d.offset + 1;
    }
    if (this.pendingEvents >= limits.flushMaxEvents) {
      const r = await this.flush(flushes);
      if (r === 'fenced') return 'fenced';
    }
    this.evict();
    return 'ok';
  }

  private async loadMissing(userIds: string[]): Promise<void> {
    const stored = await this.retrying('load users', () => loadUsers(this.deps.pool, userIds));
    for (const id of userIds) {
      const s = stored.get(id);
      this.users.set(id, {
        balance: s?.balance ?? 0,
        lifetimeEarned: s?.lifetimeEarned ?? 0,
        earnedDay: s?.earnedDay ?? 0,
        earnedToday: s?.earnedToday ?? 0,
        dirty: false,
        deltaPoints: 0,
        deltaEarned: 0,
        lastOffset: 0,
      });
    }
  }

  private apply(event: LoyaltyEvent, offset: number, rules: RuleSet, events: Counts): void {
    const u = this.users.get(event.userId)!;
    const day = Math.floor((event.timestampMs + event.utcOffsetMinutes * 60_000) / DAY_MS);
    const st = this.scratch;
    st.balance = u.balance;
    st.lifetimeEarned = u.lifetimeEarned;
    st.earnedToday = day === u.earnedDay ? u.earnedToday : 0;
    const outcome = rules.evaluate(event, st);
    let points = 0;
    let status: 'applied' | 'rejected';
    let reason: string = COPY_NULL;
    if (outcome.kind === 'applied') {
      status = 'applied';
      points = outcome.delta;
      u.balance += outcome.delta;
      u.deltaPoints += outcome.delta;
      u.lifetimeEarned += outcome.earnedDelta;
      u.deltaEarned += outcome.earnedDelta;
      if (outcome.earnedDelta !== 0 && day >= u.earnedDay) {
        if (day > u.earnedDay) {
          u.earnedDay = day;
          u.earnedToday = 0;
        }
        u.earnedToday += outcome.earnedDelta;
      }
    } else {
      status = 'rejected';
      reason = copyText(outcome.reason);
    }
    // Every event marks its user, so a user seen only through rejected events still has a (zero) balance row.
    if (!u.dirty) {
      u.dirty = true;
      this.dirtyUsers.push(event.userId);
    }
    u.lastOffset = offset;
    this.ledger.push(
      copyRow([
        copyText(this.topic), String(this.partition), String(offset), copyText(event.eventId), event.userId, event.type,
        String(points), String(u.balance), status, reason, event.timestamp, rules.version,
      ]),
    );
    const k = `${event.type}:${status}`;
    events[k] = (events[k] ?? 0) + 1;
  }

  /** Commits everything pending with the new offset; on a fence, drops all state and starts over at the stored offset. */
  async flush(flushes: FlushStats[]): Promise<'ok' | 'fenced'> {
    if (this.nextOffset === this.committedOffset && this.pendingEvents === 0) return 'ok';
    const started = performance.now();
    const deltas: string[] = [];
    for (const id of this.dirtyUsers) {
      const u = this.users.get(id)!;
      deltas.push(`${id}\t${u.deltaPoints}\t${u.deltaEarned}\t${u.earnedDay}\t${u.earnedToday}\t${u.lastOffset}\n`);
    }
    const batch: FlushBatch = {
      topic: this.topic,
      partition: this.partition,
      expectedOffset: this.committedOffset,
      newOffset: this.nextOffset,
      owner: this.deps.owner,
      deltas: deltas.join(''),
      ledger: this.ledger.join(''),
      deadLetters: this.deadLetters.join(''),
    };
    const outcome = await this.commitResolvingAmbiguity(batch);
    if (outcome.kind === 'fenced') {
      this.reset(outcome.storedOffset ?? 0);
      return 'fenced';
    }
    flushes.push({ seconds: (performance.now() - started) / 1000, events: this.pendingEvents, users: this.dirtyUsers.length });
    for (const id of this.dirtyUsers) {
      const u = this.users.get(id)!;
      u.dirty = false;
      u.deltaPoints = 0;
      u.deltaEarned = 0;
    }
    this.dirtyUsers = [];
    this.ledger = [];
    this.deadLetters = [];
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

  private reset(offset: number): void {
    this.users.clear();
    this.dirtyUsers = [];
    this.ledger = [];
    this.deadLetters = [];
    this.pendingEvents = 0;
    this.committedOffset = offset;
    this.nextOffset = offset;
  }

  /** Keeps the cache bounded: drops the oldest clean users; dirty ones stay until flushed. */
  private evict(): void {
    const cap = this.deps.limits.cacheUsers;
    if (this.users.size <= cap) return;
    const target = Math.floor(cap * 0.9);
    for (const [id, u] of this.users) {
      if (this.users.size <= target) break;
      if (!u.dirty) this.users.delete(id);
    }
  }
}

function backoffMs(attempt: number): number {
  return Math.min(5000, 50 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2);
}
