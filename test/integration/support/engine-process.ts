import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT_DIR } from '../../../tools/stack/paths.js';
import { stackEnv } from './stack.js';

export interface EngineProcess {
  proc: ChildProcess;
  port: () => number;
  logs: string[];
  exited: Promise<number | null>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** An engine's environment for a test: its topic (with a consumer group of its own), its database, the stack's broker, then `extra`. */
export function engineEnv(
  topic: string,
  databaseUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: `${topic}-g`,
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: stackEnv().brokers,
    ...extra,
  };
}

/**
 * Runs the real engine (src/main.ts) as a child process, as users run it. Resolves once it logs
 * "engine started", or with `until: 'listening'` once its HTTP server is up (start-up may still be waiting).
 */
export async function startEngineProcess(
  env: Record<string, string>,
  readyTimeoutMs = 60_000,
  until: 'started' | 'listening' = 'started',
): Promise<EngineProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT_DIR, 'src/main.ts')], {
    cwd: ROOT_DIR,
    // Tests post events with fixed timestamps: a century of retention keeps them applicable whatever today's date.
    env: { ...process.env, HTTP_PORT: '0', LOG_LEVEL: 'info', WORKER_THREADS: '2', LEDGER_RETENTION: '36500d', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return followEngine(proc, { readyTimeoutMs, until, keepLines: 2000 });
}

/**
 * Follows a started engine process: keeps its last `keepLines` log lines, learns its HTTP port, and resolves
 * once it logs "engine started" (or, with `until: 'listening'`, once HTTP is up); fails if it exits first.
 */
export async function followEngine(
  proc: ChildProcess,
  o: { readyTimeoutMs: number; until?: 'started' | 'listening'; keepLines: number },
): Promise<EngineProcess> {
  const until = o.until ?? 'started';
  const logs: string[] = [];
  let port = 0;
  let started = false;
  const onLine = (line: string): void => {
    if (line.trim() === '') return;
    logs.push(line);
    if (logs.length > o.keepLines) logs.shift();
    if (line.includes('"http listening"')) port = (JSON.parse(line) as { port: number }).port;
    if (line.includes('"engine started"')) started = true;
  };
  for (const stream of [proc.stdout, proc.stderr]) {
    let buf = '';
    stream?.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      lines.forEach(onLine);
    });
  }
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + o.readyTimeoutMs;
  while (until === 'started' ? !started : port === 0) {
    if (proc.exitCode !== null)
      throw new Error(`engine exited during start (code ${proc.exitCode}):\n${logs.slice(-20).join('\n')}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`engine did not start in ${o.readyTimeoutMs} ms:\n${logs.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    port: () => port,
    logs,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
