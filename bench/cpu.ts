import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU used by each party on the machine during a benchmark, from /proc (every process, so on a shared
 * machine "other" holds whatever else ran; the engine is every `dist/src/main` or `src/main.ts` process; the broker is
 * shared, so its CPU includes other people's clients).
 */
export type Party = 'engine' | 'postgres' | 'kafka' | 'kafka-streams' | 'other';

/** A Postgres backend names its database: "postgres: 15/main: <user> <database> <client> <state>". */
const BACKEND = /^postgres: [^:]+: \S+ (\S+) (?:\S+\(\d+\)|\[local\])/;

/**
 * Which party a process belongs to, by its command line and name. `database`: count only the backends
 * of that database as Postgres (null: none), so other people's test databases land in "other".
 */
function partyOf(cmd: string, stat: string, database: string | null | undefined): Party {
  // The Kafka Streams baseline is a JVM too: tell it from the broker by its main class.
  if (cmd.includes('local.loyalty.streams')) return 'kafka-streams';
  if (cmd.includes('java')) return 'kafka';
  if (stat.includes('(postgres)')) {
    const backend = BACKEND.exec(cmd);
    return backend === null || database === undefined || backend[1] === database ? 'postgres' : 'other';
  }
  // The bench runs the built engine; the chaos suite and the soak run src/main.ts through tsx.
  return cmd.includes('dist/src/main') || cmd.includes('src/main.ts') ? 'engine' : 'other';
}

/** Cumulative CPU ticks per process, sampled, so processes that exit during the drain still count. */
export class CpuSampler {
  /** By pid and start time (pids are reused quickly on a busy machine). */
  private readonly ticks = new Map<string, [Party, number]>();

  constructor(private readonly database?: string | null) {}

  sample(): void {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        // utime, stime and starttime are fields 14, 15 and 22; the command name before them may hold spaces.
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const key = `${pid}:${f[19]}`;
        const known = this.ticks.get(key);
        // The kernel sometimes returns an empty command line for a busy process (its memory map is locked):
        // keep what it was classified as, or its CPU would move to "other".
        const party = cmd === '' && known !== undefined ? known[0] : partyOf(cmd, stat, this.database);
        this.ticks.set(key, [party, Number(f[11]) + Number(f[12])]);
      } catch {
        /* the process ended between listing and reading */
      }
    }
  }

  totals(): Map<Party, number> {
    this.sample();
    const out = new Map<Party, number>();
    for (const [party, t] of this.ticks.values()) out.set(party, (out.get(party) ?? 0) + t);
    return out;
  }
}

/** CPU seconds a party used between two `CpuSampler.totals()` (clock ticks are 1/100 s on Linux). */
export function cpuSecondsBetween(before: Map<Party, number>, after: Map<Party, number>, party: Party): number {
  return ((after.get(party) ?? 0) - (before.get(party) ?? 0)) / 100;
}

/** CPU seconds each party used while `work` ran, and the whole machine's busy time. */
export type CpuSeconds = Record<Party | 'machine', number>;

/** Busy ticks of all cores since boot (/proc/stat: everything but idle and iowait). */
function machineBusyTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return f.reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0);
}

export async function withCpu<T>(
  work: () => Promise<T>,
  database?: string | null,
): Promise<{ result: T; cpu: CpuSeconds }> {
  const sampler = new CpuSampler(database);
  const busyBefore = machineBusyTicks();
  const before = sampler.totals();
  const timer = setInterval(() => sampler.sample(), 200);
  try {
    const result = await work();
    const after = sampler.totals();
    const used = (p: Party): number => cpuSecondsBetween(before, after, p);
    const machine = (machineBusyTicks() - busyBefore) / 100;
    return {
      result,
      cpu: {
        engine: used('engine'),
        postgres: used('postgres'),
        kafka: used('kafka'),
        'kafka-streams': used('kafka-streams'),
        other: used('other'),
        machine,
      },
    };
  } finally {
    clearInterval(timer);
  }
}

/** CPU per event in microseconds (cores used x seconds / events). */
export function microsPerEvent(cpuSeconds: number, events: number): string {
  return ((cpuSeconds * 1e6) / events).toFixed(1);
}
