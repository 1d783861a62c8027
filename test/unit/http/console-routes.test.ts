import { afterEach, describe, expect, it } from 'vitest';
import { consoleRoutes } from '../../../src/http/console-routes.js';
import type { StatsSnapshot } from '../../../src/http/stats.js';
import { createMetrics } from '../../../src/metrics/registry.js';
import { fakePool, serve, type QueryFn, type Served } from './support.js';

let served: Served | undefined;
afterEach(() => served?.close());

async function start(
  query: QueryFn,
): Promise<{ base: string; queries: { sql: string; params: unknown[] }[]; metrics: ReturnType<typeof createMetrics> }> {
  const metrics = createMetrics();
  const { pool, queries } = fakePool(query);
  served = await serve(consoleRoutes({ metrics, pool, topic: 'events', partitions: () => [0, 2] }));
  return { base: served.base, queries, metrics };
}

describe('consoleRoutes', () => {
  it('GET /api/stats: figures from the metrics and the newest dead letters of the owned partitions', async () => {
    const recorded = new Date('2026-11-25T10:00:00Z');
    const { base, queries, metrics } = await start(() => ({
      rows: [{ reason: 'malformed_json', partition: 2, kafka_offset: '41', detail: '<b>x</b>', recorded_at: recorded }],
    }));
    metrics.events.inc({ type: 'purchase', outcome: 'applied' }, 12);
    metrics.consumerLag.set({ topic: 'events', partition: '2' }, 9);
    metrics.deadLetters.inc({ reason: 'malformed_json' });
    const res = await fetch(`${base}/api/stats`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const s = (await res.json()) as StatsSnapshot;
    expect(s.partitions).toEqual([0, 2]);
    expect(s.events.applied).toBe(12);
    expect(s.lag).toEqual({ total: 9, by_partition: { '2': 9 } });
    expect(s.dead_letters.by_reason).toEqual({ malformed_json: 1 });
    expect(s.dead_letters.latest).toEqual([
      { reason: 'malformed_json', partition: 2, offset: 41, detail: '<b>x</b>', recorded_at: recorded.toISOString() },
    ]);
    expect(queries[0]!.params).toEqual(['events', [0, 2], expect.any(Number)]);
    // Polled again at once: the table is not read again within the second.
    await fetch(`${base}/api/stats`);
    expect(queries).toHaveLength(1);
  });

  it('never waits long on Postgres: a hung query leaves the dead letters empty, a failing one says why', async () => {
    const hung = await start(() => new Promise<never>(() => undefined));
    const t0 = performance.now();
    const s = (await (await fetch(`${hung.base}/api/stats`)).json()) as StatsSnapshot;
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(s.dead_letters).toMatchObject({ latest: [], latest_as_of: null, latest_error: null });
    served?.close();

    const failing = await start(() => Promise.reject(new Error('connection refused')));
    const f = (await (await fetch(`${failing.base}/api/stats`)).json()) as StatsSnapshot;
    expect(f.dead_letters.latest_error).toBe('connection refused');
  });

  it('serves the page and its files from memory with their content types; anything else is the 404 JSON body', async () => {
    const { base } = await start(() => ({ rows: [] }));
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    for (const f of ['/console/uplot.js', '/console/uplot.css', '/console/console.js', '/console/console.css'])
      expect(html).toContain(`"${f}"`);
    const uplot = await fetch(`${base}/console/uplot.js`);
    expect(uplot.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await uplot.text()).toContain('uPlot');
    for (const p of ['/console/nope.js', '/console/index.html', '/console/..%2F..%2Fpackage.json', '/index.html']) {
      const res = await fetch(`${base}${p}`);
      expect(res.status, p).toBe(404);
      expect(await res.json(), p).toEqual({ error: 'not_found', detail: 'no such route' });
    }
  });
});
