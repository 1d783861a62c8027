import { add, quantile, type Buckets } from './histogram-window.js';

/** One second of the soak. */
export interface SoakSample {
  /** Seconds since the load started. */
  t: number;
  rssMiB: number;
  lag: number;
  /** Flush-duration histogram increase during this second, all engines. */
  flush: Buckets;
}

/** CPU each party used during one minute of the soak, and the events committed meanwhile. */
export interface CpuMinute {
  /** Seconds since the load started, at the minute's end. */
  t: number;
  /** Cores (CPU seconds / wall seconds) by party. */
  cores: Record<'engine' | 'postgres' | 'kafka' | 'other', number>;
  seconds: number;
  committed: number;
}

/** CPU microseconds per committed event of each party over the minutes ending inside [from, to). */
export function cpuPerEvent(minutes: readonly CpuMinute[], from: number, to: number): CpuMinute['cores'] | null {
  const inside = minutes.filter((m) => m.t > from && m.t <= to);
  // A window that holds no sampled minute (a run of a few minutes) has no figure, not a zero one.
  if (inside.length === 0) return null;
  const events = inside.reduce((a, m) => a + m.committed, 0);
  const per = (k: keyof CpuMinute['cores']): number =>
    (inside.reduce((a, m) => a + m.cores[k] * m.seconds, 0) * 1e6) / Math.max(1, events);
  return { engine: per('engine'), postgres: per('postgres'), kafka: per('kafka'), other: per('other') };
}

export interface Fault {
  t: number;
  kind: 'kill' | 'join' | 'leave';
}

export interface WindowFigures {
  from: number;
  to: number;
  rssMiB: number;
  flushP99Ms: number;
}

export function windowFigures(samples: readonly SoakSample[], from: number, to: number): WindowFigures {
  const inside = samples.filter((s) => s.t >= from && s.t < to);
  let h: Buckets | undefined;
  for (const s of inside) h = add(h, s.flush);
  const rss = inside.reduce((a, s) => a + s.rssMiB, 0) / Math.max(1, inside.length);
  return { from, to, rssMiB: rss, flushP99Ms: h === undefined ? NaN : quantile(0.99, h) * 1000 };
}

/** |b - a| / a, the relative change from a to b. */
export const relativeChange = (a: number, b: number): number => Math.abs(b - a) / a;

/**
 * For each fault, the seconds from the fault until lag, past its peak, is at most `nearZero` again
 * (before the next fault), or null if it never is.
 */
export function recoveries(
  samples: readonly SoakSample[],
  faults: readonly Fault[],
  nearZero: number,
): (number | null)[] {
  return faults.map((f, i) => {
    const until = faults[i + 1]?.t ?? Infinity;
    const between = samples.filter((s) => s.t > f.t && s.t < until);
    if (between.length === 0) return null;
    const peak = between.reduce((m, s) => (s.lag > m.lag ? s : m));
    const back = between.find((s) => s.t >= peak.t && s.lag <= nearZero);
    return back === undefined ? null : back.t - f.t;
  });
}
