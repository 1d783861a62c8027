import { describe, expect, it } from 'vitest';
import { keepDays, RecentIds, RECENT_IDS_OFF } from '../../../src/actors/recent-ids.js';

const DAY = 86_400_000;
const W = 7 * DAY;
const at = (day: number): number => day * DAY + 3_600_000;
/** The stored form of entries (sql/007): 4 bytes each, big-endian. */
const stored = (from: number | null, entries: [number, number][]): { from: number | null; ids: Buffer } => {
  const ids = Buffer.alloc(entries.length * 4);
  entries.forEach(([off, hash], i) => ids.writeInt32BE((off << 24) | hash, i * 4));
  return { from, ids };
};

/** Whether the ledger is asked at all. */
const asks = (r: RecentIds, s: number, hash: number, atMs: number, windowMs: number): boolean =>
  r.lookupDays(s, hash, atMs, windowMs) !== null;

describe('RecentIds', () => {
  it('answers for a new user from its own entries, within the window only', () => {
    const r = new RecentIds();
    r.load(0, undefined);
    expect(r.lookupDays(0, 42, at(20_000), W)).toBeNull();
    r.add(0, 42, at(20_000), W);
    expect(r.lookupDays(0, 42, at(20_000), W)).toEqual([20_000, 20_000]);
    expect(r.lookupDays(0, 42, at(20_007), W)).toEqual([20_000, 20_000]);
    expect(r.lookupDays(0, 42, at(20_009), W)).toBeNull(); // the window no longer reaches that day
    expect(r.lookupDays(0, 43, at(20_000), W)).toBeNull();
    expect(r.from[0]).toBe(20_000 - keepDays(W));
  });

  it('gives the days of the entries with a hash (where a refund looks for its purchase first)', () => {
    const r = new RecentIds();
    r.load(
      0,
      stored(20_000, [
        [3, 7],
        [9, 8],
        [5, 7],
        [12, 7],
      ]),
    );
    expect(r.daysOf(0, 7)).toEqual([20_003, 20_012]);
    expect(r.daysOf(0, 8)).toEqual([20_009, 20_009]);
    expect(r.daysOf(0, 9)).toBeNull();
    r.load(1, stored(null, []));
    expect(r.daysOf(1, 7)).toBeNull(); // no summary: no days to look in
    r.load(2, undefined);
    expect(r.daysOf(2, 7)).toBeNull();
  });

  it('sends every check to the ledger for a user without a summary, and keeps none', () => {
    const r = new RecentIds();
    r.load(3, stored(null, []));
    expect(r.lookupDays(3, 1, at(20_000), W)).toBe('window');
    r.add(3, 1, at(20_000), W);
    expect(r.flushColumns(3)).toBe('\\N\t\\\\x');
  });

  it('sends a window reaching before the summary to the ledger', () => {
    const r = new RecentIds();
    r.load(0, stored(20_000, [[3, 7]]));
    expect(r.lookupDays(0, 8, at(20_007), W)).toBeNull();
    expect(r.lookupDays(0, 7, at(20_007), W)).toEqual([20_003, 20_003]);
    expect(r.lookupDays(0, 8, at(20_006), W)).toBe('window'); // its window starts on day 19,999
  });

  it('sends a duplicate check to the days of the matching entries inside its window only', () => {
    const r = new RecentIds();
    r.load(
      0,
      stored(20_000, [
        [1, 7],
        [5, 7],
        [6, 9],
        [8, 7],
        [20, 7],
      ]),
    );
    // Window [20,003, 20,017]: the entries on days 20,005 and 20,008; not 20,001 or 20,020, nor hash 9's day.
    expect(r.lookupDays(0, 7, at(20_010), W)).toEqual([20_005, 20_008]);
    expect(r.lookupDays(0, 9, at(20_010), W)).toEqual([20_006, 20_006]);
  });

  it('writes only what Postgres lacks, and the whole summary once pruned or built at load', () => {
    const r = new RecentIds();
    r.load(0, stored(20_000, [[1, 0xabcd]]));
    r.add(0, 0x0102, at(20_002), W);
    expect(r.flushColumns(0)).toBe('20000\t\\\\x02000102');
    r.committed(0);
    expect(r.flushColumns(0)).toBe('20000\t\\\\x');
    // Far enough ahead to prune: the old entries go, the day offsets move to the new start.
    const newest = 20_000 + keepDays(W) + Math.ceil(keepDays(W) / 2) + 1;
    r.add(0, 0x0003, at(newest), W);
    const from = newest - keepDays(W);
    expect(r.from[0]).toBe(from);
    expect(r.flushColumns(0)).toBe(`${from}\t\\\\x${keepDays(W).toString(16).padStart(2, '0')}000003`);
    expect(asks(r, 0, 0x0102, at(20_002), W)).toBe(true); // before the summary now

    r.loadBuilt(1, 20_000, stored(20_000, [[0, 5]]).ids);
    expect(r.flushColumns(1)).toBe('20000\t\\\\x00000005');
  });

  it('keeps a busy user in memory only past 256 entries, and gives up past 262,144', () => {
    const r = new RecentIds();
    r.load(0, undefined);
    for (let i = 0; i < 256; i++) r.add(0, i, at(20_000), W);
    expect(r.flushColumns(0)).toMatch(/^\d+\t\\\\x[0-9a-f]{2048}$/);
    r.committed(0);
    r.add(0, 256, at(20_000), W);
    // The balance row gets RECENT_IDS_OFF (a new owner asks the ledger); this owner still answers from memory.
    expect(r.flushColumns(0)).toBe(`${RECENT_IDS_OFF}\t\\\\x`);
    expect(asks(r, 0, 5000, at(20_000), W)).toBe(false);
    expect(asks(r, 0, 256, at(20_000), W)).toBe(true);
    for (let i = 257; i < 262_144; i++) r.add(0, i, at(20_000), W);
    expect(asks(r, 0, 300_000, at(20_000), W)).toBe(false);
    // A busy user's entries are found through its table: present, absent, and outside the window.
    expect(asks(r, 0, 10_000, at(20_000), W)).toBe(true);
    expect(asks(r, 0, 16_383, at(20_007), W)).toBe(true);
    expect(asks(r, 0, 10_000, at(20_009), W)).toBe(false);
    r.add(0, 300_000, at(20_000), W);
    expect(r.from[0]).toBe(RECENT_IDS_OFF);
    expect(asks(r, 0, 300_001, at(20_000), W)).toBe(true);
    expect(r.flushColumns(0)).toBe(`${RECENT_IDS_OFF}\t\\\\x`);
    r.load(0, { from: RECENT_IDS_OFF, ids: Buffer.alloc(0) });
    expect(asks(r, 0, 300_001, at(20_000), W)).toBe(true);
  });

  it('never answers "not seen" for an id it holds in the window, whether it scans or uses a table', () => {
    let seed = 11;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.floor(seed / 65536) % n;
    };
    for (const size of [5, 40, 200, 3000]) {
      const r = new RecentIds();
      r.load(0, undefined);
      const held: [number, number][] = [];
      for (let i = 0; i < size; i++) {
        const hash = rand(4096);
        const day = 20_000 + rand(14);
        r.add(0, hash, at(day), W);
        held.push([hash, day]);
      }
      let answered = 0;
      for (let q = 0; q < 2000; q++) {
        const hash = rand(4096);
        const day = 20_000 + rand(14);
        const seen = held.some(([h, d]) => h === hash && Math.abs(d - day) <= 7);
        const ask = asks(r, 0, hash, at(day), W);
        if (seen) expect(ask).toBe(true);
        if (!ask) answered++;
      }
      expect(answered).toBeGreaterThan(0);
    }
  });

  it('keeps no summary for a window too long for its day offsets (over 27 days)', () => {
    const r = new RecentIds();
    r.load(0, undefined);
    r.add(0, 1, at(20_000), 28 * DAY);
    expect(r.from[0]).toBe(RECENT_IDS_OFF);
    expect(asks(r, 0, 2, at(20_000), 28 * DAY)).toBe(true);
    r.load(1, undefined);
    r.add(1, 1, at(20_000), 27 * DAY);
    expect(asks(r, 1, 2, at(20_000), 27 * DAY)).toBe(false);
  });

  it('keeps a large summary read from the ledger in memory only', () => {
    const r = new RecentIds();
    const entries: [number, number][] = Array.from({ length: 300 }, (_, i) => [1, i]);
    r.loadBuilt(0, 20_000, stored(20_000, entries).ids);
    expect(r.flushColumns(0)).toBe(`${RECENT_IDS_OFF}\t\\\\x`);
    expect(asks(r, 0, 299, at(20_008), W)).toBe(true);
    expect(asks(r, 0, 300, at(20_008), W)).toBe(false);
  });

  /** The lists of one user with 300 entries: a 1024-slot table (4 KB) and the entries past the first, with room. */
  const ONE_BUSY_USER_BYTES = 4096 + 4 * 299;

  it('bounds the memory of busy users per actor: past the budget a user gives its summary up, counted', () => {
    const budget = 4 * 1024 * 1024;
    const r = new RecentIds(budget);
    let off = 0;
    for (let u = 0; u < 2_000; u++) {
      r.load(u, undefined);
      for (let i = 0; i < 300; i++) r.add(u, i, at(20_000), W);
      if (r.from[u] === RECENT_IDS_OFF) off++;
    }
    // Every kept busy user's lists are counted: 299 entries and their room to grow, and a 1024-slot table.
    expect(r.memoryOnlyBytes).toBe((2_000 - off) * ONE_BUSY_USER_BYTES);
    expect(r.memoryOnlyBytes).toBeLessThanOrEqual(budget);
    expect(off).toBeGreaterThan(1_000);
    expect(r.takeGivenUp()).toEqual({ memory_budget: off });
    expect(r.takeGivenUp()).toEqual({});
    expect(asks(r, 1_999, 5, at(20_000), W)).toBe(true);
    for (let u = 0; u < 2_000; u++) r.forget(u);
    expect(r.memoryOnlyBytes).toBe(0);
  });

  it('keeps 5,000 busy users of 300 ids each (1.5M ids) under the default budget', () => {
    // The soak's stream (200,000 users, zipf 0.5) has thousands of such users per partition; the 500,000-entry
    // budget this replaced gave most of them up, and their checks read the ledger's whole window.
    const r = new RecentIds();
    for (let u = 0; u < 5_000; u++) {
      r.load(u, undefined);
      for (let i = 0; i < 300; i++) r.add(u, i, at(20_000), W);
    }
    expect(r.takeGivenUp()).toEqual({});
    expect(r.memoryOnlyBytes).toBe(5_000 * ONE_BUSY_USER_BYTES);
    expect(asks(r, 4_999, 5, at(20_000), W)).toBe(true);
    expect(asks(r, 4_999, 301, at(20_000), W)).toBe(false);
  });

  it("counts a busy user's bytes through loads from the ledger and prunes, back to 0 once forgotten", () => {
    const r = new RecentIds();
    const entries = (n: number): [number, number][] => Array.from({ length: n }, (_, i) => [0, i + 1]);
    r.loadBuilt(0, 20_000, stored(20_000, entries(300)).ids);
    r.loadBuilt(1, 20_000, stored(20_000, entries(400)).ids);
    const both = r.memoryOnlyBytes;
    expect(both).toBeGreaterThan(700 * 4);
    r.forget(1);
    expect(r.memoryOnlyBytes).toBeGreaterThan(0);
    expect(r.memoryOnlyBytes).toBeLessThan(both);
    r.forget(0);
    expect(r.memoryOnlyBytes).toBe(0);

    // A prune that keeps more than 256 entries (the user stays memory-only), then one that keeps none.
    r.load(2, undefined);
    for (let i = 0; i < 300; i++) r.add(2, i + 1, at(20_000), W);
    for (let i = 0; i < 300; i++) r.add(2, i + 1_000, at(20_020), W); // past the slack: pruned to 20_020 - keep
    expect(r.lookupDays(2, 5, at(20_005), W)).toEqual([20_000, 20_000]);
    expect(r.memoryOnlyBytes).toBeGreaterThan(600 * 4);
    r.forget(2);
    expect(r.memoryOnlyBytes).toBe(0);
    r.load(3, undefined);
    for (let i = 0; i < 300; i++) r.add(3, i + 1, at(20_000), W);
    expect(r.memoryOnlyBytes).toBeGreaterThan(0);
    r.add(3, 7, at(20_060), W); // every older entry pruned away: no longer a busy user
    expect(r.memoryOnlyBytes).toBe(0);
    expect(r.takeGivenUp()).toEqual({});
  });

  it('counts the other reasons to give a summary up', () => {
    const r = new RecentIds();
    r.load(0, undefined);
    r.add(0, 1, at(20_000), 28 * DAY);
    r.load(1, { from: 20_000, ids: Buffer.alloc(4 * 262_145) });
    expect(r.takeGivenUp()).toEqual({ window_too_long: 1, user_limit: 1 });
  });
});
