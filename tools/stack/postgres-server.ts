import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, chmodSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { releaseHugePages, reserveHugePages } from './huge-pages.js';
import { STACK_DIR } from './paths.js';
import { portAnswers, StackError } from './process-utils.js';

export const DEFAULT_DATABASE = 'loyalty';

/** True when a Postgres server at `url` accepts a query. */
export async function postgresAnswers(url: string, timeoutMs = 3000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates `db` on the server behind `adminUrl` if it does not exist yet. */
export async function ensureDatabase(adminUrl: string, db: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
    if (r.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(db)}`).catch((e: unknown) => {
        // Two starters racing: the loser sees duplicate_database, which is fine.
        if (!(e instanceof Error && 'code' in e && e.code === '42P04')) throw e;
      });
    }
  } finally {
    await client.end();
  }
}

/** Drops `db` (if it exists) on the server behind `adminUrl`, closing its connections. */
export async function dropDatabase(adminUrl: string, db: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(db)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

const privatePort = (env: NodeJS.ProcessEnv): number => Number(env.STACK_PG_PORT ?? 55432);

/** A cluster of the stack's own: a data folder under .stack/, a port and the settings it starts with. */
interface ClusterSpec {
  dir: string;
  port: number;
  settings: Record<string, string>;
  /** Reserve the kernel's huge pages for its shared memory before it starts (tools/stack/huge-pages.ts). */
  hugePages?: boolean;
}

const privateCluster = (env: NodeJS.ProcessEnv): ClusterSpec => ({
  dir: path.join(STACK_DIR, 'postgres'),
  port: privatePort(env),
  settings: { fsync: 'on' },
});

/**
 * Write settings a production server holding this ledger would run with, sized for this 24 GiB machine that
 * also runs Kafka and the engines. The machine's server runs Debian's defaults (128 MB of shared buffers, a
 * 1 GB WAL): there a soak's ledger indexes outgrow the buffers within minutes, and backends spend their time
 * writing WAL (full-page images after each of the frequent checkpoints) and evicting dirty pages themselves.
 * Durability is untouched: fsync, full_page_writes and synchronous_commit stay on.
 */
export const PRODUCTION_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '4GB',
  wal_buffers: '64MB',
  max_wal_size: '16GB',
  min_wal_size: '2GB',
  checkpoint_timeout: '15min',
  checkpoint_completion_target: '0.9',
  wal_compression: 'lz4',
  // 'try', Postgres' default, said out loud: the stack reserves the pages (hugePages below); without them it starts anyway.
  huge_pages: 'try',
};

const tunedCluster = (env: NodeJS.ProcessEnv): ClusterSpec => ({
  dir: path.join(STACK_DIR, 'postgres-tuned'),
  port: Number(env.STACK_TUNED_PG_PORT ?? 55433),
  // The name puts backends' titles in the form bench/cpu.ts reads ("postgres: tuned: user database ...").
  settings: { cluster_name: 'tuned', ...PRODUCTION_SETTINGS },
  hugePages: true,
});

function findPgBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : null;
}

/** initdb and postgres refuse to run as root: run them as the `postgres` system user then. */
function runPg(bin: string, args: string[]): { ok: boolean; output: string } {
  const asRoot = process.getuid?.() === 0;
  const r = asRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', bin, ...args], { encoding: 'utf8' })
    : spawnSync(bin, args, { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** The values the server at `url` runs with for `names`, as Postgres shows them (e.g. 4GB), in that order. */
export async function serverSettings(url: string, names: string[]): Promise<[string, string][]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ name: string; setting: string }>(
      'SELECT name, current_setting(name) AS setting FROM unnest($1::text[]) WITH ORDINALITY AS u(name, k) ORDER BY k',
      [names],
    );
    return r.rows.map((x) => [x.name, x.setting]);
  } finally {
    await c.end();
  }
}

/** Settings of `wanted` the server at `url` runs with other values of. */
async function settingsDiffer(url: string, wanted: Record<string, string>): Promise<string[]> {
  const actual = await serverSettings(url, Object.keys(wanted));
  return actual.filter(([name, value]) => value.toLowerCase() !== wanted[name]!.toLowerCase()).map(([name]) => name);
}

async function startCluster(spec: ClusterSpec, log: (line: string) => void): Promise<string> {
  const bin = findPgBin();
  if (bin === null) {
    throw new StackError(
      'no PostgreSQL server answers and none is installed: apt-get install -y postgresql (or set DATABASE_URL)',
    );
  }
  const data = path.join(spec.dir, 'data');
  const url = `postgres://postgres@127.0.0.1:${spec.port}/postgres`;
  const name = path.relative(process.cwd(), spec.dir);
  if (await postgresAnswers(url)) {
    const differ = await settingsDiffer(url, spec.settings);
    if (differ.length === 0) return url;
    log(`postgres: ${name} runs with other ${differ.join(', ')}: restarting it`);
    runPg(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
  }
  if (await portAnswers('127.0.0.1', spec.port)) {
    throw new StackError(`port ${spec.port} is taken by another process: stop it or set STACK_PG_PORT`);
  }
  mkdirSync(spec.dir, { recursive: true });
  if (process.getuid?.() === 0) {
    spawnSync('chown', ['-R', 'postgres:postgres', spec.dir]);
    chmodSync(spec.dir, 0o755);
  }
  if (!existsSync(path.join(data, 'PG_VERSION'))) {
    log(`postgres: initialising a private cluster in ${path.relative(process.cwd(), data)} ...`);
    const r = runPg(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    if (!r.ok) throw new StackError(`initdb failed: ${r.output.split('\n').slice(-1)[0] ?? ''}`);
  }
  const assignments = Object.entries(spec.settings).map(([k, v]) => `${k}=${v}`);
  const settings = assignments.map((a) => `-c ${a}`).join(' ');
  if (spec.hugePages === true) {
    // Asked of the stopped server with the settings it will start with (shared_buffers decides the size).
    const asked = runPg(path.join(bin, 'postgres'), [
      '-D',
      data,
      '-C',
      'shared_memory_size_in_huge_pages',
      ...assignments.flatMap((a) => ['-c', a]),
    ]);
    const answer = asked.output.split('\n').at(-1) ?? '';
    const needed = Number(answer);
    log(
      asked.ok && Number.isInteger(needed)
        ? reserveHugePages(spec.dir, needed, process.getuid?.() === 0)
        : `huge pages: Postgres did not say how many it needs (${answer}); normal pages`,
    );
  }
  const r = runPg(path.join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    path.join(spec.dir, 'postgres.log'),
    '-w',
    '-t',
    '60',
    '-o',
    `-p ${spec.port} -k ${spec.dir} -c listen_addresses=127.0.0.1 ${settings}`,
    'start',
  ]);
  if (!r.ok) throw new StackError(`the private Postgres did not start: see ${path.join(spec.dir, 'postgres.log')}`);
  log(`postgres: private cluster started on 127.0.0.1:${spec.port} (${settings.replace(/-c /g, '')})`);
  return url;
}

/**
 * A private cluster with PRODUCTION_SETTINGS (the soak's, and any long run's that should not measure Debian's
 * defaults), on its own port; started, or restarted when it runs with other settings. Returns its admin URL.
 */
export async function tunedPostgres(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<string> {
  return startCluster(tunedCluster(env), log);
}

const clusterRunning = (spec: ClusterSpec): boolean => existsSync(path.join(spec.dir, 'data', 'postmaster.pid'));

function stopCluster(spec: ClusterSpec, log: (line: string) => void): void {
  const bin = findPgBin();
  if (bin === null || !clusterRunning(spec)) return;
  const r = runPg(path.join(bin, 'pg_ctl'), ['-D', path.join(spec.dir, 'data'), '-m', 'fast', '-w', 'stop']);
  const name = path.relative(process.cwd(), spec.dir);
  log(r.ok ? `postgres: ${name} stopped` : `postgres: pg_ctl stop (${name}) said: ${r.output}`);
  const released = r.ok && spec.hugePages === true ? releaseHugePages(spec.dir) : null;
  if (released !== null) log(released);
}

/** Whether the tuned cluster runs (a test that starts it stops it again only if it did not). */
export const tunedPostgresRunning = (env: NodeJS.ProcessEnv): boolean => clusterRunning(tunedCluster(env));

/** Stops the tuned cluster, if it runs (4 GB of shared buffers: not to be left behind by a test run). */
export function stopTunedPostgres(env: NodeJS.ProcessEnv, log: (line: string) => void): void {
  stopCluster(tunedCluster(env), log);
}

/** Stops the stack's private clusters that are running. */
export function stopPrivateCluster(log: (line: string) => void): void {
  for (const spec of [privateCluster(process.env), tunedCluster(process.env)]) stopCluster(spec, log);
}

/**
 * Finds a Postgres to use, in order: DATABASE_URL when it answers; the machine's
 * server on 127.0.0.1:5432; a private cluster under .stack/ from the system's binaries.
 * Returns a URL to the `loyalty` database (created when missing).
 */
export async function resolvePostgres(
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<{ url: string; source: string }> {
  if (env.DATABASE_URL) {
    if (await postgresAnswers(env.DATABASE_URL)) {
      log('postgres: using DATABASE_URL');
      return { url: env.DATABASE_URL, source: 'DATABASE_URL' };
    }
    log('postgres: DATABASE_URL does not answer; looking for another server');
  }
  if (env.STACK_PG !== 'private') {
    const machine = 'postgres://postgres@127.0.0.1:5432/postgres';
    if (await postgresAnswers(machine)) {
      await ensureDatabase(machine, DEFAULT_DATABASE);
      log('postgres: using the server on 127.0.0.1:5432');
      return { url: withDatabase(machine, DEFAULT_DATABASE), source: 'machine' };
    }
  }
  const admin = await startCluster(privateCluster(env), log);
  await ensureDatabase(admin, DEFAULT_DATABASE);
  return { url: withDatabase(admin, DEFAULT_DATABASE), source: 'private' };
}
