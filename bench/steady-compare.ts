/**
 * Steady load at one rate with several values of one engine setting (FLUSH_MAX_AGE_MS by default), in turn:
 * what each costs in engine, Postgres and broker CPU per event, and what it gives in freshness. One line per run.
 *   npx tsx bench/steady-compare.ts --setting ACTOR_LINGER_MS --values 0,20 --rate 30000 --seconds 40 [--rounds 2]
 * The freshness probes poll the API every 10 ms, so CPU per event here includes that polling (the soak has none).
 */
import { parseArgs } from 'node:util';
import { withCpu, microsPerEvent } from './cpu.js';
import { steadyState } from './steady-state.js';
import { stackEnv } from '../test/integration/support/stack.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '30000' },
    seconds: { type: 'string', default: '40' },
    values: { type: 'string', default: '100,250,500' },
    // Which engine setting the values vary (FLUSH_MAX_AGE_MS by default).
    setting: { type: 'string', default: 'FLUSH_MAX_AGE_MS' },
    rounds: { type: 'string', default: '1' },
  },
});
const env = stackEnv();
const databaseUrl = process.env.DATABASE_URL ?? env.databaseUrl;
const settingValues = values.values.split(',');
const run = `sc${Date.now().toString(36)}`;
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [i, v] of settingValues.entries()) {
    process.env[values.setting] = v;
    const { result, cpu } = await withCpu(
      () =>
        steadyState({
          brokers: env.brokers,
          databaseUrl,
          run: `${run}_${round}_${i}`,
          rate: Number(values.rate),
          seconds: Number(values.seconds),
          partitions: 12,
          users: 100_000,
        }),
      `${run}_${round}_${i}_steady_db`,
    );
    const n = result.produced;
    console.log(
      `${values.setting}=${v}: produced ${n} (${Math.round(result.producedPerSec)}/s); CPU us/event engine ${microsPerEvent(cpu.engine, n)} postgres ${microsPerEvent(cpu.postgres, n)} kafka ${microsPerEvent(cpu.kafka, n)}; freshness p50 ${result.freshnessMs.p50} p99 ${result.freshnessMs.p99} ms; flushes ${result.flushes}; flush p50 ${(result.flushSeconds.p50 * 1000).toFixed(0)} p99 ${(result.flushSeconds.p99 * 1000).toFixed(0)} ms`,
    );
  }
}
