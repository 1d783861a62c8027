import { parseArgs } from 'node:util';
import { stackUp } from '../../tools/stack/stack.js';
import { runSoak } from './soak/run-soak.js';

/**
 * `npm run soak -- --minutes N [--rate R] [--engine-root DIR] [--postgres tuned|stack]`: see soak/run-soak.ts.
 * `--postgres stack` runs on the stack's server as configured instead of the soak's tuned private cluster. `--engine-root`
 * runs another checkout's engine (e.g. a `git archive` of a commit). On a shared machine run it under
 * `flock /tmp/loyalty-heavy.lock`.
 */
const log = (l: string): void => {
  process.stderr.write(`[soak] ${l}\n`);
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '30' },
      rate: { type: 'string' },
      'engine-root': { type: 'string' },
      postgres: { type: 'string' }, // runSoak's default: tuned
    },
  });
  const minutes = Number(values.minutes);
  if (!(minutes >= 1)) throw new Error('--minutes must be at least 1');
  const postgres = values.postgres;
  if (postgres !== undefined && postgres !== 'tuned' && postgres !== 'stack')
    throw new Error('--postgres must be tuned or stack');
  await stackUp(log);
  const r = await runSoak({
    minutes,
    rate: values.rate === undefined ? undefined : Number(values.rate),
    engineRoot: values['engine-root'],
    postgres,
    log,
  });
  console.log(r.summary.join('\n'));
  console.log(`\nsoak: ${r.passed ? 1 : 0} passed, ${r.passed ? 0 : 1} failed`);
  if (!r.passed) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    console.error(`[soak] error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
