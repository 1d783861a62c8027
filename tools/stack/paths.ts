import path from 'node:path';
import { ROOT_DIR } from '../../src/paths.js';

export { ROOT_DIR };
/** Everything the local stack writes (data, logs, pids, env): git-ignored. */
export const STACK_DIR = process.env.STACK_DIR ?? path.join(ROOT_DIR, '.stack');
/** Downloaded jars; survives `stack down` so a restart needs no network. */
export const CACHE_DIR = path.join(ROOT_DIR, '.cache');
export const STACK_ENV_FILE = path.join(STACK_DIR, 'env');
