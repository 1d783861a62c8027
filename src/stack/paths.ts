import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root, found from this file's location so commands work from any cwd. */
export const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Everything the local stack writes (data, logs, pids, env): git-ignored. */
export const STACK_DIR = process.env.STACK_DIR ?? path.join(ROOT_DIR, '.stack');
/** Downloaded jars; survives `stack down` so a restart needs no network. */
export const CACHE_DIR = path.join(ROOT_DIR, '.cache');
export const STACK_ENV_FILE = path.join(STACK_DIR, 'env');
