import { describe, expect, it } from 'vitest';
import { keepDays, RecentIds, RECENT_IDS_OFF } from '../../../src/actors/recent-ids.js';

const DAY = 86_400_000;
const W = 7 * DAY;
const at = (day: number): number => day * DAY + 3_600_000;
/** The stored form of entries (sql/007): 4 bytes each, big-endian. */
const stored = (from: number | null, entries: [number, number][]): { from: number | null; ids: Buffer } => {
  const ids = Buffer.alloc(entries.length * 4);
  entries.forEach(([off, hash], i) => ids.writeInt32BE((off << 16) | hash, i * 4));
  return { from, ids };
};

describe('RecentIds', () => {
  it('answers for a new user from its own entries, within the window only', () => {
    const r = new RecentIds();
    r.load(0, undefined);
    expect(r.needsLookup(0, 42, at(20_000), W)).toBe(false);
    r.add(0, 42, at(20_000), W);
    expect(r.needsLookup(0, 42, at(20_000), W)).toBe(true);
    expect(r.needsLookup(0, 42, at(20_007), W)).toBe(true);
    expect(r.needsLookup(0, 42, at(20_009), W)).toBe(false); // the window no longer reaches that day
    expect(r.needsLookup(0, 43, at(20_000), W)).toBe(false);
    expect(r.from[0]).toBe(20_000 - keepDays(W));
  });

  it('sends every check to the ledger for a user without a summary, and keeps none', () => {
    const r = new RecentIds();
    r.load(3, stored(null, []));
    expect(r.needsLookup(3, 1, at(20_000), W)).toBe(true);
    r.add(3, 1, at(20_000), W);
    expect(r.flushColumns(3)).toBe('\\N\t\\\\x');
  });

  it('sends a window reaching before the summary to the ledger', () => {
    const r = new RecentIds();
    r.load(0, stored(20_000, [[3, 7]]));
    expect(r.needsLookup(0, 8, at(20_007), W)).toBe(false);
    expect(r.needsLookup(0, 7, at(20_007), W)).toBe(true);
    expect(r.needsLookup(0, 8, at(20_006), W)).toBe(true); // its window starts on day 19,999
  });

  it('writes only what Postgres lacks, and the whole summary once pruned or built at load', () => {
    const r = new RecentIds();
    r.load(0, stored(20_000, [[1, 0xabcd]]));
    r.add(0, 0x0102, at(20_002), W);
    expect(r.flushColumns(0)).toBe('20000\t\\\\x00020102');
    r.committed(0);
    expect(r.flushColumns(0)).toBe('20000\t\\\\x');
    // Far enough ahead to prune: the old entries go, the day offsets move to the new start.
    const newest = 20_000 + keepDays(W) + Math.ceil(keepDays(W) / 2) + 1;
    r.add(0, 0x0003, at(newest), W);
    const from = newest - keepDays(W);
    expect(r.from[0]).toBe(from);
    expect(r.flushColumns(0)).toBe(`${from}\t\\\\x${keepDays(W).toString(16).padStart(4, '0')}0003`);
    expect(r.needsLookup(0, 0x0102, at(20_002), W)).toBe(true); // before the summary now

    r.loadBuilt(1, 20_000, stored(20_000, [[0, 5]]).ids);
    expect(r.flushColumns(1)).toBe('20000\t\\\\x00000005');
  });

  it('gives up on a user with too many entries: the ledger answers from then on', () => {
    const r = new RecentIds();
    r.load(0, undefined);
    for (let i = 0; i < 256; i++) r.add(0, i, at(20_000), W);
    expect(r.needsLookup(0, 5000, at(20_000), W)).toBe(false);
    r.add(0, 5000, at(20_000), W);
    expect(r.from[0]).toBe(RECENT_IDS_OFF);
    expect(r.needsLookup(0, 5001, at(20_000), W)).toBe(true);
    expect(r.flushColumns(0)).toBe(`${RECENT_IDS_OFF}\t\\\\x`);
  });
});
