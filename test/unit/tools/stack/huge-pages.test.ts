import { describe, expect, it } from 'vitest';
import { available, held, hugePageCounts, poolTarget } from '../../../../tools/stack/huge-pages.js';

const meminfo = (total: number, free: number, rsvd: number): string =>
  `MemTotal:       24000000 kB\nHugePages_Total:    ${total}\nHugePages_Free:     ${free}\nHugePages_Rsvd:     ${rsvd}\nHugePages_Surp:        0\nHugepagesize:       2048 kB\n`;

describe('huge page pool arithmetic', () => {
  it('reads the pool from /proc/meminfo, and nothing from a kernel without one', () => {
    expect(hugePageCounts(meminfo(2300, 2220, 2052))).toEqual({ total: 2300, free: 2220, reserved: 2052 });
    expect(hugePageCounts('MemTotal: 1 kB\n')).toBeNull();
  });

  it('counts reserved pages as taken: a free page promised to a mapping is not available', () => {
    const c = { total: 2300, free: 2220, reserved: 2052 };
    expect(available(c)).toBe(168);
    expect(held(c)).toBe(2132);
  });

  it('grows the pool by what is short, and not at all when enough is available', () => {
    expect(poolTarget({ total: 0, free: 0, reserved: 0 }, 2100)).toBe(2100);
    // Another user holds 100 of 300 (50 of them promised): 150 available, so 1,950 more for 2,100.
    expect(poolTarget({ total: 300, free: 200, reserved: 50 }, 2100)).toBe(2250);
    expect(poolTarget({ total: 3000, free: 2500, reserved: 0 }, 2100)).toBeNull();
  });
});
