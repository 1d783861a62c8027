import { parseArgs } from 'node:util';
import { applyStackEnv } from '../tools/stack/env-file.js';
import { dropDatabase } from '../tools/stack/postgres-server.js';
import { stackUp } from '../tools/stack/stack.js';
import { microsPerEvent, withCpu } from './cpu.js';
import { keptDrainBacklog } from './drain-backlog.js';
import { drainWithEngine } from './engine-drain.js';
import { buildEngine, table } from './support.js';

/**
 * One engine drain of a kept backlog, with the CPU each party used: for trying a change or a setting
 * quickly (the full `npm run bench` takes minutes). The backlog topic is produced once and reused:
 *   npm run bench:drain -- --events 600000                 (produces its kept backlog if missing)
 *   npm run bench:drain -- --events 600000 --env FLUSH_MAX_AGE_MS=250 --runs 3
 * Single drains vary by several per cent: compare medians of a few runs.
 */

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      users: { type: 'string' },
      runs: { type: 'string' },
      env: { type: 'string', multiple: true },
      keep: { type: 'boolean' },
      // --profile DIR: V8 CPU profiles of every engine thread (each run), for tools/cpuprofile-top or a flame graph.
      profile: { type: 'string' },
    },
  });
  const events = Number(values.events ?? 600_000);
  const users = Number(values.users ?? 100_000);
  const env = Object.fromEntries(
    (values.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  applyStackEnv();
  const ends = await stackUp((l) => process.stderr.write(`[stack] ${l}\n`));
  buildEngine();
  const { topic } = await keptDrainBacklog(ends.kafkaBrokers, events, users);
  const rows: Record<string, string | number>[] = [];
  for (let i = 0; i < Number(values.runs ?? 1); i++) {
    const dbName = `bench_drain_db_${Date.now().toString(36)}`;
    const { result: d, cpu } = await withCpu(
      () =>
        drainWithEngine({
          label: `drain ${i + 1}`,
          brokers: ends.kafkaBrokers,
          databaseUrl: ends.databaseUrl,
          dbName,
          topic,
          events,
          env,
          ...(values.profile !== undefined && { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] }),
        }),
      dbName,
    );
    const cores = (s: number): string => (s / d.seconds).toFixed(2);
    rows.push({
      run: i + 1,
      'events/s': Math.round(d.rate),
      seconds: d.seconds.toFixed(1),
      'peak RSS MiB': d.peakRssMiB,
      'engine cores': cores(cpu.engine),
      'postgres cores': cores(cpu.postgres),
      'kafka cores': cores(cpu.kafka),
      'other cores': cores(cpu.other),
      // Cores x seconds / events: what an event costs each party, whatever the drain's speed.
      'engine µs/event': microsPerEvent(cpu.engine, events),
      'postgres µs/event': microsPerEvent(cpu.postgres, events),
    });
    if (!values.keep) await dropDatabase(ends.databaseUrl, dbName);
  }
  console.log(
    `\n${events} events, ${users} users, 12 partitions${Object.keys(env).length ? `, ${JSON.stringify(env)}` : ''}:`,
  );
  console.log(table(rows));
}

main().catch((e: unknown) => {
  console.error(`[bench] error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
