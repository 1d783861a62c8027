import path from 'node:path';
import { ROOT_DIR } from '../../../tools/stack/paths.js';
import { followEngine, type EngineProcess } from '../../integration/support/engine-process.js';
import { spawnRecorded } from './network-host.js';

export interface LaunchedEngine extends EngineProcess {
  /** http://<HTTP host>:<port> */
  baseUrl: () => string;
}

/**
 * The checkout whose engine the chaos suite runs when a launch names none: `npm run chaos -- --engine-root DIR`
 * (e.g. a `git archive` of a commit, with a node_modules link) sets it, so a run tests one fixed engine even
 * while this checkout's src/ is being edited. This checkout by default.
 */
let defaultRoot = ROOT_DIR;
export function setEngineRoot(root: string): void {
  defaultRoot = path.resolve(root);
}
export const engineRoot = (): string => defaultRoot;

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
  const root = o.root ?? defaultRoot;
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
