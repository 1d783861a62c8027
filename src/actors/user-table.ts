import { widened, type TypedColumn } from './typed-column.js';
import type { StoredUser } from '../store/users.js';

/**
 * The users a partition actor holds, one slot per user and one typed array per field.
 * An object per user cost about 450 bytes of heap with 1M users (boxed doubles, a hidden
 * class, a Map entry); columns cost about 60 bytes plus the id, and give the garbage
 * collector nothing to trace. Slots of evicted users are reused.
 */
export class UserTable {
  private readonly slots = new Map<string, number>();
  private readonly free: number[] = [];
  private used = 0;
  /** Slot -> user id (the Map's key string, not a copy). */
  ids: string[] = [];
  balance = new Float64Array(0);
  lifetimeEarned = new Float64Array(0);
  /** Local calendar day (days since epoch) that earnedToday counts. */
  earnedDay = new Int32Array(0);
  earnedToday = new Float64Array(0);
  /** Changes not yet flushed. */
  deltaPoints = new Float64Array(0);
  deltaEarned = new Float64Array(0);
  lastOffset = new Float64Array(0);
  /** 1 while the user has changes not yet flushed: never evicted then. */
  dirty = new Uint8Array(0);
  /**
   * 1 when Postgres may hold ledger rows of this user: it had a balance row, or a flush since
   * wrote some (every ledger row's user gets a balance row in the same transaction). A 0 user's
   * event ids need no ledger lookup.
   */
  inPostgres = new Uint8Array(0);

  constructor(initialCapacity = 1024) {
    this.grow(initialCapacity);
  }

  get size(): number {
    return this.slots.size;
  }

  slotOf(userId: string): number | undefined {
    return this.slots.get(userId);
  }

  /** Adds a user with what Postgres stored (or zeros for a user it has never seen); returns the slot. */
  add(userId: string, stored: StoredUser | undefined): number {
    let s = this.free.pop();
    if (s === undefined) {
      if (this.used === this.balance.length) this.grow(this.balance.length * 2);
      s = this.used++;
    }
    this.slots.set(userId, s);
    this.ids[s] = userId;
    this.balance[s] = stored?.balance ?? 0;
    this.lifetimeEarned[s] = stored?.lifetimeEarned ?? 0;
    this.earnedDay[s] = stored?.earnedDay ?? 0;
    this.earnedToday[s] = stored?.earnedToday ?? 0;
    this.deltaPoints[s] = 0;
    this.deltaEarned[s] = 0;
    this.lastOffset[s] = stored?.lastOffset ?? 0;
    this.dirty[s] = 0;
    this.inPostgres[s] = stored === undefined ? 0 : 1;
    return s;
  }

  /** After a commit: the user's deltas are in Postgres, so it is clean and has rows there. */
  markFlushed(s: number): void {
    this.dirty[s] = 0;
    this.inPostgres[s] = 1;
    this.deltaPoints[s] = 0;
    this.deltaEarned[s] = 0;
  }

  /** Drops the oldest clean users (insertion order) until at most `target` remain; `onEvict` hears each freed slot. */
  evictClean(target: number, onEvict?: (slot: number) => void): void {
    for (const [id, s] of this.slots) {
      if (this.slots.size <= target) break;
      if (this.dirty[s] === 1) continue;
      this.slots.delete(id);
      this.ids[s] = '';
      this.free.push(s);
      onEvict?.(s);
    }
  }

  clear(): void {
    this.slots.clear();
    this.free.length = 0;
    this.ids = [];
    this.used = 0;
  }

  private grow(capacity: number): void {
    const n = Math.max(16, capacity);
    const widen = <T extends TypedColumn>(old: T, make: (k: number) => T): T => widened(old, n, make);
    this.balance = widen(this.balance, (k) => new Float64Array(k));
    this.lifetimeEarned = widen(this.lifetimeEarned, (k) => new Float64Array(k));
    this.earnedDay = widen(this.earnedDay, (k) => new Int32Array(k));
    this.earnedToday = widen(this.earnedToday, (k) => new Float64Array(k));
    this.deltaPoints = widen(this.deltaPoints, (k) => new Float64Array(k));
    this.deltaEarned = widen(this.deltaEarned, (k) => new Float64Array(k));
    this.lastOffset = widen(this.lastOffset, (k) => new Float64Array(k));
    this.dirty = widen(this.dirty, (k) => new Uint8Array(k));
    this.inPostgres = widen(this.inPostgres, (k) => new Uint8Array(k));
  }
}
