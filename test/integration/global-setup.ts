import { stackUp } from '../../tools/stack/stack.js';
import { applyStackEnv } from '../../tools/stack/env-file.js';

/** Brings the real stack up (idempotent) so `npm test` alone works on a fresh machine. */
export default async function setup(): Promise<void> {
  applyStackEnv();
  await stackUp((line) => console.log(`[stack] ${line}`));
}
