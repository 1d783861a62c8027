import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { Registry } from 'prom-client';
import { engineRoutes } from '../src/http/routes.js';
import { json, startHttpServer } from '../src/http/uws-server.js';
import { applyStackEnv } from '../tools/stack/env-file.js';
import { ROOT_DIR } from '../tools/stack/paths.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../tools/stack/postgres-server.js';
import { stackUp } from '../tools/stack/stack.js';
import { migrate } from '../src/store/migrations.js';
import { table } from './support.js';

/**
 * API read benchmark: GET /points/{random existing user} served by the engine's HTTP layer (uWS + the real
 * routes + a Postgres pool of the engine's default size) over N users, beside the same uWS wrapper answering
 * a constant body, same duration and connections, in one run. The servers run in a child process so that
 * autocannon (this process) does not share their event loop.
 */

const SERVE_FLAG = '--serve';

/** Child mode: both servers, ports on stdout as one JSON line. */
async function serve(): Promise<void> {
  const pool = new pg.Pool({
    connectionString: process.env.BENCH_DATABASE_URL,
    max: Number(process.env.BENCH_POOL ?? 4),
    application_name: 'bench-api',
  });
  const noop = (): void => undefined;
  const engine = await startHttpServer(
    '127.0.0.1',
    0,
    engineRoutes({
      pool,
      registry: new Registry(),
      isReady: () => ({ ready: true, reasons: [] }),
      tierOf: () => 'base',
      readConcurrency: process.env.API_READ_CONCURRENCY ? Number(process.env.API_READ_CONCURRENCY) : undefined,
    }),
    noop,
  );
  // A constant answer of the same shape and size: what uWS + the wrapper cost without Postgres.
  const body = {
    user_id: 'user-0',
    points: 12345,
    lifetime_earned: 67890,
    tier: 'base',
    updated_at: new Date(0).toISOString(),
    as_of: { partition: 3, offset: 12345 },
  };
  const constant = await startHttpServer(
    '127.0.0.1',
    0,
    [{ method: 'get', pattern: '/points/:user_id', name: 'constant', handler: () => json(200, body) }],
    noop,
  );
  process.stdout.write(`${JSON.stringify({ engine: engine.port, constant: constant.port })}\n`);
}

function startServers(databaseUrl: string): Promise<{ proc: ChildProcess; engine: number; constant: number }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT_DIR, 'bench/api.ts'), SERVE_FLAG], {
    cwd: ROOT_DIR,
    env: { ...process.env, BENCH_DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n')[0];
      if (buf.includes('\n') && line) {
        const ports = JSON.parse(line) as { engine: number; constant: number };
        resolve({ proc, ...ports });
      }
    });
    proc.once('exit', (code) => reject(new Error(`bench server exited (code ${code})`)));
  });
}

export interface Measured {
  label: string;
  requestsPerSec: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** [percentile, ms] from autocannon's latency histogram (1 ms resolution). */
  percentilesMs: [number, number][];
}

const PERCENTILES: [string, number][] = [
  ['p1', 1],
  ['p10', 10],
  ['p25', 25],
  ['p50', 50],
  ['p75', 75],
  ['p90', 90],
  ['p97_5', 97.5],
  ['p99', 99],
  ['p99_9', 99.9],
  ['p99_99', 99.99],
];

async function cannon(
  label: string,
  port: number,
  users: number,
  durationS: number,
  connections: number,
): Promise<Measured> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: durationS,
    // A different existing user on every request.
    requests: [
      { method: 'GET', setupRequest: (req) => ({ ...req, path: `/points/user-${Math.floor(Math.random() * users)}` }) },
    ],
  });
  return {
    label,
    requestsPerSec: Math.round(r.requests.average),
    meanMs: r.latency.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    percentilesMs: PERCENTILES.map(([k, p]) => [p, (r.latency as unknown as Record<string, number>)[k] ?? NaN]),
  };
}

export interface ApiBenchResult {
  engine: Measured;
  constant: Measured;
  ratio: number;
}

/** Runs both targets in one run; returns the measurements (also written to bench/results/api-*.json). */
export async function apiBench(o: {
  users: number;
  durationS: number;
  connections: number;
  warmupS: number;
  log?: (line: string) => void;
}): Promise<ApiBenchResult> {
  const { users, durationS, connections, warmupS } = o;
  const say = o.log ?? ((l: string) => console.log(l));
  applyStackEnv();
  const ends = await stackUp((l) => process.stderr.write(`[stack] ${l}\n`));
  const dbName = `bench_api_${Date.now().toString(36)}`;
  await ensureDatabase(ends.databaseUrl, dbName);
  const url = withDatabase(ends.databaseUrl, dbName);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  let servers: Awaited<ReturnType<typeof startServers>> | undefined;
  try {
    await migrate(pool);
    const t0 = performance.now();
    await pool.query(
      `INSERT INTO balances (user_id, points, lifetime_earned, updated_at, last_partition, last_offset)
       SELECT 'user-' || g, (g * 7919) % 100000, (g * 7919) % 150000, now(), g % 12, g FROM generate_series(0, $1::int - 1) AS g`,
      [users],
    );
    await pool.query('ANALYZE balances');
    process.stderr.write(`[bench] ${users} users inserted in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

    servers = await startServers(url);
    const runs: Measured[] = [];
    for (const [label, port] of [
      ['engine GET /points/{user_id} (Postgres)', servers.engine],
      ['same uWS server, constant body', servers.constant],
    ] as const) {
      process.stderr.write(
        `[bench] ${label}: ${warmupS} s warm-up, ${durationS} s measured, ${connections} connections\n`,
      );
      await cannon(label, port, users, warmupS, connections);
      runs.push(await cannon(label, port, users, durationS, connections));
    }
    const [engine, constant] = runs as [Measured, Measured];
    const ratio = engine.requestsPerSec / constant.requestsPerSec;
    say(
      table(
        runs.map((r) => ({
          target: r.label,
          'req/s': r.requestsPerSec,
          'mean ms': r.meanMs,
          'p50 ms': r.p50Ms,
          'p99 ms': r.p99Ms,
          requests: r.total,
          'non-2xx': r.non2xx,
          errors: r.errors + r.timeouts,
        })),
      ),
    );
    say(`\nengine / constant: ${ratio.toFixed(3)} of the throughput; p99 ${engine.p99Ms} ms vs ${constant.p99Ms} ms`);
    if (
      engine.non2xx + engine.errors + engine.timeouts > 0 ||
      constant.non2xx + constant.errors + constant.timeouts > 0
    ) {
      say('WARNING: some requests failed (see non-2xx / errors): the numbers are not comparable');
      process.exitCode = 1;
    }

    const outDir = path.join(ROOT_DIR, 'bench/results');
    mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `api-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          when: new Date().toISOString(),
          machine: {
            cpus: os.cpus().length,
            model: os.cpus()[0]?.model,
            memoryGiB: Math.round(os.totalmem() / 2 ** 30),
            node: process.version,
          },
          settings: { users, durationS, warmupS, connections, dbPool: 4 },
          engine,
          constant,
          ratio,
        },
        null,
        2,
      )}\n`,
    );
    say(`written ${path.relative(ROOT_DIR, file)}`);
    return { engine, constant, ratio };
  } finally {
    servers?.proc.kill('SIGKILL');
    await pool.end();
    await dropDatabase(ends.databaseUrl, dbName);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
    },
  });
  await apiBench({
    users: Number(values.users ?? 100_000),
    durationS: Number(values.duration ?? 15),
    connections: Number(values.connections ?? 32),
    warmupS: Number(values.warmup ?? 2),
  });
}

// Run only as a script (npm run bench:api, or the --serve child), not when bench/run.ts imports apiBench.
const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isEntry && process.argv.includes(SERVE_FLAG)) {
  serve().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
} else if (isEntry) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
