import path from 'node:path';
import { ROOT_DIR } from '../../../tools/stack/paths.js';
import type { EngineProcess } from '../../integration/support/engine-process.js';
import { spawnRecorded } from './network-host.js';

export interface LaunchedEngine extends EngineProcess {
  /** http://<HTTP host>:<port> */
  baseUrl: () => string;
}

/**
 * Runs the real engine (src/main.ts of `root`, through tsx as the chaos suite does) behind an
 * optional command prefix (`ip netns exec NAME`), serving HTTP on `httpHost`. Resolves once it
 * logs "engine started". Its pid is recorded, so a crashed suite's engines are ended next time.
 */
export async function launchEngine(o: {
  prefix?: string[];
  root?: string;
  httpHost?: string;
  env: Record<string, string>;
  readyTimeoutMs?: number;
}): Promise<LaunchedEngine> {
  const root = o.root ?? ROOT_DIR;
  const httpHost = o.httpHost ?? '127.0.0.1';
  const node = [process.execPath, '--import', 'tsx', path.join(root, 'src/main.ts')];
  const argv = [...(o.prefix ?? []), ...node];
  const proc = spawnRecorded(
    argv[0]!,
    argv.slice(1),
    {
      ...process.env,
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      WORKER_THREADS: '2',
      LEDGER_RETENTION: '36500d',
      ...o.env,
      HTTP_HOST: httpHost,
    },
    root,
  );
  proc.stdin?.end();
  const logs: string[] = [];
  let port = 0;
  let started = false;
  const onLine = (line: string): void => {
    if (line.trim() === '') return;
    logs.push(line);
    if (logs.length > 5000) logs.shift();
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
  const timeout = o.readyTimeoutMs ?? 90_000;
  const deadline = Date.now() + timeout;
  while (!started) {
    if (proc.exitCode !== null)
      throw new Error(`engine exited during start (code ${proc.exitCode}):\n${logs.slice(-20).join('\n')}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`engine did not start in ${timeout} ms:\n${logs.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    port: () => port,
    baseUrl: () => `http://${httpHost}:${port}`,
    logs,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
