import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Huge pages for a private cluster's shared memory (PostgreSQL docs, "Linux Huge Pages"). With 4 GB of shared
 * buffers and 4 KB pages, every buffer access of a backend risks a TLB miss, and the ledger's index inserts are
 * such accesses at random: a 200,000-row COPY into a ledger holding 4M rows took about a quarter less time per
 * row with the buffers on 2 MB pages (docs/performance.md, "A steady stream's Postgres time, and huge pages"). The kernel hands them out only from a pool
 * reserved beforehand (`vm.nr_hugepages`), which needs root: the stack reserves what the cluster needs before
 * starting it, notes the pool's size before, and gives the pages back when it stops the cluster. Postgres runs
 * with `huge_pages=try`, so a machine without them still starts, on normal pages.
 */

const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';
const COMPACT_MEMORY = '/proc/sys/vm/compact_memory';
/** The pool's size before the stack grew it, kept beside the cluster's data until the stack shrinks it back. */
const NOTE = 'huge-pages-before';

export interface HugePageCounts {
  total: number;
  free: number;
  reserved: number;
}

/** The kernel's huge page pool, from /proc/meminfo (null where the kernel has none). */
export function hugePageCounts(meminfo = readFileSync('/proc/meminfo', 'utf8')): HugePageCounts | null {
  const field = (name: string): number | null => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(meminfo);
    return m ? Number(m[1]) : null;
  };
  const total = field('HugePages_Total');
  const free = field('HugePages_Free');
  const reserved = field('HugePages_Rsvd');
  return total === null || free === null || reserved === null ? null : { total, free, reserved };
}

/** Pages of the pool that a new mapping can still get: free and not promised to a mapping already made. */
export const available = (c: HugePageCounts): number => c.free - c.reserved;

/** Pages held by mappings (touched or only promised): what a started cluster adds. */
export const held = (c: HugePageCounts): number => c.total - c.free + c.reserved;

/**
 * The pool size that gives `needed` more pages than are available now, or null when enough are available
 * already. Pure, for the unit tests.
 */
export function poolTarget(c: HugePageCounts, needed: number): number | null {
  const short = needed - available(c);
  return short <= 0 ? null : c.total + short;
}

/**
 * Makes `needed` huge pages available for the cluster in `dir`, growing the kernel's pool when short.
 * Returns a line for the log saying what it did, or why not.
 */
export function reserveHugePages(dir: string, needed: number, asRoot: boolean): string {
  const before = hugePageCounts();
  if (before === null || !existsSync(NR_HUGEPAGES))
    return 'huge pages: this kernel has none; shared memory on normal pages';
  if (needed <= 0) return 'huge pages: none needed';
  const target = poolTarget(before, needed);
  if (target === null) return `huge pages: ${needed} needed, ${available(before)} available`;
  if (!asRoot)
    return `huge pages: ${needed} needed, ${available(before)} available; as root, sysctl -w vm.nr_hugepages=${target} (until then normal pages)`;
  // The first size seen is the one to restore: a restart must not note the stack's own reservation as the machine's.
  const note = path.join(dir, NOTE);
  if (!existsSync(note)) writeFileSync(note, String(before.total));
  writeFileSync(NR_HUGEPAGES, String(target));
  let after = hugePageCounts();
  // Short because free memory is in pieces (a machine that has run a while): compact it once and ask again.
  if (after !== null && after.total < target && existsSync(COMPACT_MEMORY)) {
    writeFileSync(COMPACT_MEMORY, '1');
    writeFileSync(NR_HUGEPAGES, String(target));
    after = hugePageCounts();
  }
  const got = after === null ? 0 : available(after);
  return got >= needed
    ? `huge pages: vm.nr_hugepages ${before.total} -> ${after?.total ?? target} for ${needed} pages`
    : `huge pages: asked the kernel for ${target}, got ${after?.total ?? 0} (memory too fragmented); ${got} of ${needed} available, Postgres falls back to normal pages`;
}

/**
 * kB of the mappings on 2 MB pages of the postmaster of the cluster in `dataDir` (its shared memory), from
 * /proc/<pid>/smaps; null when that cannot be read (a server on another machine, or another user's).
 */
export function postmasterHugePagesKb(dataDir: string): number | null {
  try {
    const pid = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]!;
    // Each mapping's block: its address line, a "Size:" line, then later its "KernelPageSize:".
    let kb = 0;
    for (const block of readFileSync(`/proc/${pid}/smaps`, 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
      if (/^KernelPageSize:\s+2048 kB/m.test(block)) kb += Number(/^Size:\s+(\d+) kB/m.exec(block)?.[1] ?? 0);
    }
    return kb;
  } catch {
    return null;
  }
}

/** Gives back what `reserveHugePages` added for the cluster in `dir` (after it stopped); a line for the log, or null. */
export function releaseHugePages(dir: string): string | null {
  const note = path.join(dir, NOTE);
  if (!existsSync(note)) return null;
  const before = Number(readFileSync(note, 'utf8'));
  rmSync(note);
  if (!Number.isInteger(before) || before < 0) return null;
  try {
    writeFileSync(NR_HUGEPAGES, String(before));
  } catch (e) {
    return `huge pages: could not set vm.nr_hugepages back to ${before}: ${e instanceof Error ? e.message : String(e)}`;
  }
  return `huge pages: vm.nr_hugepages back to ${before}`;
}
