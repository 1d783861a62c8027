import path from 'node:path';
import { ROOT_DIR } from '../../../tools/stack/paths.js';
import { followEngine, type EngineProcess } from '../../integration/support/engine-process.js';
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
  const engine = await followEngine(proc, { readyTimeoutMs: o.readyTimeoutMs ?? 90_000, keepLines: 5000 });
  return { ...engine, baseUrl: () => `http://${httpHost}:${engine.port()}` };
}
