import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, chmodSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
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

const privateDir = (): string => path.join(STACK_DIR, 'postgres');
const privatePort = (env: NodeJS.ProcessEnv): number => Number(env.STACK_PG_PORT ?? 55432);

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

async function startPrivateCluster(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<string> {
  const bin = findPgBin();
  if (bin === null) {
    throw new StackError(
      'no PostgreSQL server answers and none is installed: apt-get install -y postgresql (or set DATABASE_URL)',
    );
  }
  const dir = privateDir();
  const data = path.join(dir, 'data');
  const port = privatePort(env);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  if (await postgresAnswers(url)) return url;
  if (await portAnswers('127.0.0.1', port)) {
    throw new StackError(`port ${port} is taken by another process: stop it or set STACK_PG_PORT`);
  }
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() === 0) {
    spawnSync('chown', ['-R', 'postgres:postgres', dir]);
    chmodSync(dir, 0o755);
  }
  if (!existsSync(path.join(data, 'PG_VERSION'))) {
    log(`postgres: initialising a private cluster in ${path.relative(process.cwd(), data)} ...`);
    const r = runPg(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    if (!r.ok) throw new StackError(`initdb failed: ${r.output.split('\n').slice(-1)[0] ?? ''}`);
  }
  const r = runPg(path.join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    path.join(dir, 'postgres.log'),
    '-w',
    '-t',
    '60',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on`,
    'start',
  ]);
  if (!r.ok) throw new StackError(`the private Postgres did not start: see ${path.join(dir, 'postgres.log')}`);
  log(`postgres: private cluster started on 127.0.0.1:${port}`);
  return url;
}

export async function stopPrivateCluster(log: (line: string) => void): Promise<void> {
  const bin = findPgBin();
  const data = path.join(privateDir(), 'data');
  if (bin === null || !existsSync(path.join(data, 'postmaster.pid'))) return;
  const r = runPg(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
  log(r.ok ? 'postgres: private cluster stopped' : `postgres: pg_ctl stop said: ${r.output}`);
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
  const admin = await startPrivateCluster(env, log);
  await ensureDatabase(admin, DEFAULT_DATABASE);
  return { url: withDatabase(admin, DEFAULT_DATABASE), source: 'private' };
}
