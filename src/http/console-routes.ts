import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type pg from 'pg';
import { readEngine } from '../metrics/engine-reading.js';
import type { EngineMetrics } from '../metrics/registry.js';
import { ROOT_DIR } from '../paths.js';
import { recentDeadLetters, type RecentDeadLetter } from '../store/recent-dead-letters.js';
import { RefreshingCache } from './refreshing-cache.js';
import { StatsHistory } from './stats.js';
import { errorJson, json, type Response, type Route } from './uws-server.js';

export interface ConsoleDeps {
  metrics: EngineMetrics;
  pool: pg.Pool;
  topic: string;
  /** The partitions this engine owns right now. */
  partitions: () => number[];
}

/** Where the page's files live: the sources, also when the engine runs from dist/ (tsc copies no HTML). */
export const CONSOLE_DIR = path.join(ROOT_DIR, 'src', 'console');
const LATEST_DEAD_LETTERS = 8;

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
// Defence in depth: even if data reached the DOM as markup, no inline script could run.
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

interface StaticFile {
  contentType: string;
  body: string;
}

/** The page's files, read once: the chart library comes from node_modules (pinned in package.json), never a CDN. */
function loadFiles(): { page: string; files: Map<string, StaticFile> } {
  const require = createRequire(import.meta.url);
  const read = (file: string): string => readFileSync(file, 'utf8');
  return {
    page: read(path.join(CONSOLE_DIR, 'index.html')),
    files: new Map([
      ['console.js', { contentType: JS, body: read(path.join(CONSOLE_DIR, 'console.js')) }],
      ['console.css', { contentType: CSS, body: read(path.join(CONSOLE_DIR, 'console.css')) }],
      ['uplot.js', { contentType: JS, body: read(require.resolve('uplot/dist/uPlot.iife.min.js')) }],
      ['uplot.css', { contentType: CSS, body: read(require.resolve('uplot/dist/uPlot.min.css')) }],
    ]),
  };
}

/** GET / (the live console), its files under /console/, and GET /api/stats, which the page polls every second. */
export function consoleRoutes(d: ConsoleDeps): Route[] {
  const { page, files } = loadFiles();
  const history = new StatsHistory();
  const deadLetters = new RefreshingCache<RecentDeadLetter[]>(
    () => recentDeadLetters(d.pool, d.topic, d.partitions(), LATEST_DEAD_LETTERS),
    [],
    1000,
    250,
  );
  const asset = (f: StaticFile): Response => ({
    status: 200,
    contentType: f.contentType,
    headers: { 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' },
    body: f.body,
  });
  return [
    {
      method: 'get',
      pattern: '/',
      name: '/',
      handler: () => ({ status: 200, contentType: 'text/html; charset=utf-8', headers: PAGE_HEADERS, body: page }),
    },
    {
      method: 'get',
      pattern: '/console/:file',
      name: '/console/{file}',
      handler: (req) => {
        const f = files.get(req.params[0] ?? '');
        return f ? asset(f) : errorJson(404, 'not_found', 'no such route');
      },
    },
    {
      method: 'get',
      pattern: '/api/stats',
      name: '/api/stats',
      handler: async () => {
        history.add(await readEngine(d.metrics));
        const dl = await deadLetters.get();
        const out = json(200, history.snapshot(d.partitions(), { latest: dl.value, asOfMs: dl.atMs, error: dl.error }));
        out.headers = { 'cache-control': 'no-store' };
        return out;
      },
    },
  ];
}
