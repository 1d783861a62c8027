import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root: the nearest folder above this file with a package.json (works from src/ and from dist/src/). */
function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
  return dir;
}

export const ROOT_DIR = findRoot(path.dirname(fileURLToPath(import.meta.url)));
/** Everything the local stack writes (data, logs, pids, env): git-ignored. */
export const STACK_DIR = process.env.STACK_DIR ?? path.join(ROOT_DIR, '.stack');
/** Downloaded jars; survives `stack down` so a restart needs no network. */
export const CACHE_DIR = path.join(ROOT_DIR, '.cache');
export const STACK_ENV_FILE = path.join(STACK_DIR, 'env');
