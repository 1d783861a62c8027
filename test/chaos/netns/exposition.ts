/** Reading the engine's /metrics text (Prometheus exposition format). */

interface Sample {
  name: string;
  labels: string;
  value: number;
}

function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m) out.push({ name: m[1]!, labels: m[2] ?? '', value: Number(m[3]) });
  }
  return out;
}

/** The sum of every sample of `name`, over all label sets (0 when absent). */
export function metricSum(text: string, name: string): number {
  return samples(text)
    .filter((s) => s.name === name)
    .reduce((a, s) => a + s.value, 0);
}

/** A histogram's cumulative buckets (upper bound -> count), summed over label sets, in bound order. */
export function histogramBuckets(text: string, name: string): [number, number][] {
  const byBound = new Map<number, number>();
  for (const s of samples(text)) {
    if (s.name !== `${name}_bucket`) continue;
    const le = /le="([^"]+)"/.exec(s.labels)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + s.value);
  }
  return [...byBound].sort((a, b) => a[0] - b[0]);
}

/** GET <baseUrl>/metrics, or undefined when it does not answer within `timeoutMs`. */
export async function scrape(baseUrl: string, timeoutMs = 2000): Promise<string | undefined> {
  try {
    const r = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}
