import { mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureTopics } from '../src/kafka/admin.js';
import { ExpectedBalances } from '../tools/simulator/expected-balances.js';
import { generateMessages } from '../tools/simulator/generator.js';
import { produceMessages } from '../tools/simulator/produce.js';
import { ROOT_DIR } from '../tools/stack/paths.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../tools/stack/postgres-server.js';
import { stackUp } from '../tools/stack/stack.js';
import { applyStackEnv } from '../tools/stack/env-file.js';
import { kcatRate, rawConsumerRate } from './baselines.js';
import { lineChartSvg } from './chart.js';
import { naiveConsumerRate } from './naive-consumer.js';
import { drainWithEngine, lifecycleRuleYaml, twentyRuleYaml, type DrainResult } from './engine-drain.js';
import { steadyState, type SteadyResult } from './steady-state.js';
import { apiBench } from './api.js';
import { microsPerEvent, withCpu, type CpuSeconds } from './cpu.js';
import {
  buildKafkaStreams,
  drainWithKafkaStreams,
  removeStreamsRun,
  streamsBalances,
  type StreamsDrainResult,
} from './kafka-streams.js';
import { renderFlameGraphs } from './flame.js';
import { drainWithHistory } from './history.js';
import { formatLedgerSize, ledgerSizeOf, type LedgerSize } from './ledger-size.js';
import { buildEngine, progress, table } from './support.js';

/**
 * Backlog drain: N events preloaded, then, on the same backlog and in the same run, the
 * engine from a cold start until every event is committed in Postgres (balances checked),
 * beside the same librdkafka client doing no processing, kcat, and a naive per-event consumer.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      events: { type: 'string' },
      partitions: { type: 'string' },
      users: { type: 'string' },
      threads: { type: 'string' },
      'steady-rates': { type: 'string' },
      'steady-seconds': { type: 'string' },
      keep: { type: 'boolean' },
      profile: { type: 'string' },
      repeat: { type: 'string' },
      'history-rows': { type: 'string' },
    },
  });
  applyStackEnv();
  const events = Number(values.events ?? (values.quick ? 200_000 : 2_000_000));
  const partitions = Number(values.partitions ?? 12);
  const users = Number(values.users ?? 100_000);
  const naiveSlice = values.quick ? 3_000 : 10_000;
  const ends = await stackUp((l) => process.stderr.write(`[stack] ${l}\n`));
  // Each scenario's database is dropped as soon as it has been checked, so that autovacuum on
  // millions of ledger rows does not compete with the scenarios that follow (unless --keep).
  const done = async (db: string): Promise<void> => {
    if (!values.keep) await dropDatabase(ends.databaseUrl, db);
  };
  buildEngine();
  const run = `bench_${Date.now().toString(36)}`;
  const topic = `${run}_events`;
  await ensureTopics(ends.kafkaBrokers, [
    { topic, partitions },
    { topic: `${topic}.dlq`, partitions },
  ]);

  // 1. The backlog, and the independent replay's expected balances.
  const expected = new ExpectedBalances();
  const gen = generateMessages(events, { users, skew: 1.1, redeemRatio: 0.2, badRatio: 0.001, seed: 2026 });
  const pp = progress(`producing ${events} events`);
  const produced = await produceMessages(
    ends.kafkaBrokers,
    topic,
    (function* () {
      for (const m of gen) {
        expected.add(m);
        yield m;
      }
    })(),
    { batchSize: 5000, onProgress: (p) => pp.update(`${p.sent} sent, ${Math.round(p.sent / (p.elapsedMs / 1000))}/s`) },
  );
  pp.done(`${produced.sent} sent in ${(produced.elapsedMs / 1000).toFixed(1)} s`);

  // 2-4. On the same backlog, interleaved and repeated (drains vary by several per cent from run to run;
  // the median of each is reported, every run listed): the raw client timed like the engine, the engine
  // from a cold start until every event is committed with the default rules (every balance checked),
  // and with a 20-rule file (the cost of rules).
  const reps = Number(values.repeat ?? (values.quick ? 1 : 3));
  const threadsEnv: Record<string, string> = values.threads ? { WORKER_THREADS: values.threads } : {};
  const rulesFile = path.join(os.tmpdir(), `${run}-20-rules.yaml`);
  writeFileSync(rulesFile, twentyRuleYaml());
  // The seed's rules plus a lifecycle block (issue #14: the drain with lots at >= 0.8x of the same backlog without).
  const lifecycleRulesFile = path.join(os.tmpdir(), `${run}-lifecycle-rules.yaml`);
  writeFileSync(lifecycleRulesFile, lifecycleRuleYaml());
  // --profile DIR: CPU profiles of the first default drain's engine (every thread), rendered as flame graphs.
  const profileDir = values.profile ? path.resolve(values.profile) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const rawRuns: { seconds: number; rate: number }[] = [];
  const drains: (DrainResult & { cpu: CpuSeconds })[] = [];
  const drains20: DrainResult[] = [];
  const drainsLifecycle: DrainResult[] = [];
  let mismatches = 0;
  // The Kafka Streams baseline (exactly_once_v2, RocksDB) with 1 and 2 stream threads in each round: the faster is reported.
  const streamsSkipped = buildKafkaStreams();
  if (streamsSkipped) console.log(streamsSkipped);
  const streamsThreads = streamsSkipped ? [] : [1, 2];
  const streamsRuns = new Map<number, (StreamsDrainResult & { cpu: CpuSeconds })[]>(streamsThreads.map((t) => [t, []]));
  let streamsMismatches = 0;
  let ledgerBytes: LedgerSize | null = null;
  for (let i = 0; i < reps; i++) {
    const of = reps > 1 ? ` ${i + 1}/${reps}` : '';
    rawRuns.push(await rawConsumerRate(ends.kafkaBrokers, topic, partitions, events, 'like-engine'));
    // The CPU each party used during the drain (bench/cpu.ts): CPU per event, engine and Postgres apart.
    const { result: d, cpu } = await withCpu(
      () =>
        drainWithEngine({
          label: `engine drain (default rules)${of}`,
          brokers: ends.kafkaBrokers,
          databaseUrl: ends.databaseUrl,
          dbName: `${run}_db${i}`,
          topic,
          events,
          env: threadsEnv,
          ...(profileDir && i === 0 && { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] }),
        }),
      `${run}_db${i}`,
    );
    // What the ledger costs on disk per event (sql/003), from the first drain's database.
    if (i === 0) ledgerBytes = await ledgerSizeOf(ends.databaseUrl, `${run}_db${i}`);
    await done(`${run}_db${i}`);
    const d20 = await drainWithEngine({
      label: `engine drain (20 rules)${of}`,
      brokers: ends.kafkaBrokers,
      databaseUrl: ends.databaseUrl,
      dbName: `${run}_db20_${i}`,
      topic,
      events,
      env: { ...threadsEnv, RULES_FILE: rulesFile },
    });
    await done(`${run}_db20_${i}`);
    // Ticks off: the backlog's event times are in the past, and ticks would move the clocks to now (docs/lifecycle.md).
    const dl = await drainWithEngine({
      label: `engine drain (lifecycle block)${of}`,
      brokers: ends.kafkaBrokers,
      databaseUrl: ends.databaseUrl,
      dbName: `${run}_dblc_${i}`,
      topic,
      events,
      env: { ...threadsEnv, RULES_FILE: lifecycleRulesFile, CLOCK_TICK_MS: '0' },
    });
    await done(`${run}_dblc_${i}`);
    dl.balances.clear();
    drainsLifecycle.push(dl);
    // Exactness of what was measured: the default rules' balances against the replay, every run.
    mismatches += expected.differences(d.balances).length;
    d.balances.clear();
    d20.balances.clear();
    drains.push({ ...d, cpu });
    drains20.push(d20);
    for (const threads of streamsThreads) {
      const s = await withCpu(
        () =>
          drainWithKafkaStreams({
            label: `Kafka Streams drain (${threads} thread${threads > 1 ? 's' : ''})${of}`,
            brokers: ends.kafkaBrokers,
            topic,
            events,
            threads,
            runId: `${run}_ks${threads}_${i}`,
          }),
        null,
      );
      const wrong = expected.differences(await streamsBalances(ends.kafkaBrokers, s.result.outputTopic));
      if (wrong.length > 0)
        console.log(
          `Kafka Streams (${threads} threads): ${wrong.length} balances differ from the replay, e.g. ${JSON.stringify(wrong.slice(0, 3))}`,
        );
      streamsMismatches += wrong.length;
      await removeStreamsRun(ends.kafkaBrokers, s.result);
      streamsRuns.get(threads)!.push({ ...s.result, cpu: s.cpu });
    }
  }
  // The faster thread count by median rate (a fair chance for the baseline), and its median run.
  const streamsByThreads = [...streamsRuns.values()].map((r) => median(r));
  const streams = streamsByThreads.length > 0 ? streamsByThreads.reduce((a, b) => (b.rate > a.rate ? b : a)) : null;
  if (profileDir)
    console.log(
      `\nWhere the drain's time goes (CPU profile of each engine thread; flame graphs beside the profiles):\n${renderFlameGraphs(profileDir).join('\n')}`,
    );
  const raw = median(rawRuns);
  const drain = median(drains);
  const drain20 = median(drains20);
  const drainLifecycle = median(drainsLifecycle);
  const rawBest = await rawConsumerRate(ends.kafkaBrokers, topic, partitions, events, 'best-case');
  const kcat = await kcatRate(ends.kafkaBrokers, topic, events);
  const engineSeconds = drain.seconds;
  const series = drain.series;

  // History (issue #13): the same backlog into a database whose ledger already holds older rows of its users,
  // made in SQL (bench/history.ts); compared with the default drains' median above.
  const historyRows = Number(values['history-rows'] ?? (values.quick ? 0 : 50_000_000));
  const history =
    historyRows > 0
      ? await drainWithHistory({
          brokers: ends.kafkaBrokers,
          adminUrl: ends.databaseUrl,
          dbName: `${run}_history`,
          topic,
          events,
          users,
          rows: historyRows,
          expected,
          env: threadsEnv,
          log: (l) => process.stderr.write(`\r[bench] ${l}`.padEnd(100)),
        })
      : null;
  if (history) await done(`${run}_history`);
  mismatches += history?.mismatches ?? 0;

  // 5. The seed's design on a slice.
  const naiveDb = `${run}_naive`;
  await ensureDatabase(ends.databaseUrl, naiveDb);
  const naive = await naiveConsumerRate(
    ends.kafkaBrokers,
    withDatabase(ends.databaseUrl, naiveDb),
    topic,
    partitions,
    naiveSlice,
  );
  await done(naiveDb);

  // 6. Scale: 2 and 3 processes in one group on the same backlog (1 is the drain above).
  const scale = [{ processes: 1, seconds: drain.seconds, rate: drain.rate, series: drain.series }];
  if (!values.quick) {
    for (const processes of [2, 3]) {
      const d = await drainWithEngine({
        label: `engine drain (${processes} processes)`,
        brokers: ends.kafkaBrokers,
        databaseUrl: ends.databaseUrl,
        dbName: `${run}_db_x${processes}`,
        topic,
        events,
        env: threadsEnv,
        processes,
      });
      await done(`${run}_db_x${processes}`);
      scale.push({ processes, seconds: d.seconds, rate: d.rate, series: d.series });
    }
  }

  // 7. Memory with 1M distinct users: a second backlog of 1M events, users in turn, so every event is a new user.
  let memory: { users: number; events: number; peakRssMiB: number; rate: number; rss: [number, number][] } | null =
    null;
  if (!values.quick) {
    const memTopic = `${run}_mem`;
    const memEvents = 1_000_000;
    await ensureTopics(ends.kafkaBrokers, [
      { topic: memTopic, partitions },
      { topic: `${memTopic}.dlq`, partitions },
    ]);
    const mp = progress(`producing ${memEvents} events over 1M users`);
    await produceMessages(
      ends.kafkaBrokers,
      memTopic,
      generateMessages(memEvents, {
        users: 1_000_000,
        skew: 0,
        cycleUsers: true,
        redeemRatio: 0.1,
        badRatio: 0,
        seed: 5,
      }),
      {
        batchSize: 5000,
        onProgress: (p) => mp.update(`${p.sent} sent`),
      },
    );
    mp.done('done');
    const d = await drainWithEngine({
      label: 'engine drain (1M users)',
      brokers: ends.kafkaBrokers,
      databaseUrl: ends.databaseUrl,
      dbName: `${run}_mem_db`,
      topic: memTopic,
      events: memEvents,
      env: threadsEnv,
    });
    await done(`${run}_mem_db`);
    memory = { users: d.balances.size, events: memEvents, peakRssMiB: d.peakRssMiB, rate: d.rate, rss: d.rss };
  }

  // 8. Steady state: freshness at fixed rates, up to the 50k events/s of the target.
  const steadyRates = (values['steady-rates'] ?? (values.quick ? '5000' : '20000,35000,50000')).split(',').map(Number);
  const steadyRuns: SteadyResult[] = [];
  for (const rate of steadyRates) {
    steadyRuns.push(
      await steadyState({
        brokers: ends.kafkaBrokers,
        databaseUrl: ends.databaseUrl,
        run: `${run}_${rate}`,
        partitions,
        users,
        rate,
        seconds: Number(values['steady-seconds'] ?? (values.quick ? 15 : 30)),
      }),
    );
    await done(`${run}_${rate}_steady_db`);
  }
  const steady = steadyRuns[steadyRuns.length - 1]!;

  // 9. API: GET /points against a constant-body server on the same uWS wrapper.
  const api = await apiBench({
    users: 100_000,
    durationS: values.quick ? 5 : 10,
    connections: 32,
    warmupS: 2,
    log: (l) => process.stderr.write(`[bench] ${l}\n`),
  });

  const engineRate = events / engineSeconds;
  const rowsOut = [
    {
      consumer: 'engine (decode, rules, COPY+merge, exact)',
      events,
      seconds: engineSeconds.toFixed(2),
      'events/s': Math.round(engineRate),
      'vs raw client': ratio(engineRate, raw.rate),
    },
    {
      consumer: 'engine with a 20-rule file',
      events,
      seconds: drain20.seconds.toFixed(2),
      'events/s': Math.round(drain20.rate),
      'vs raw client': ratio(drain20.rate, raw.rate),
    },
    {
      consumer: 'engine with a lifecycle block (14d pending, 365d expiry)',
      events,
      seconds: drainLifecycle.seconds.toFixed(2),
      'events/s': Math.round(drainLifecycle.rate),
      'vs raw client': ratio(drainLifecycle.rate, raw.rate),
    },
    ...(streams
      ? [
          {
            consumer: `Kafka Streams, exactly_once_v2, RocksDB (Java, ${streams.threads} stream thread${streams.threads > 1 ? 's' : ''})`,
            events,
            seconds: streams.seconds.toFixed(2),
            'events/s': Math.round(streams.rate),
            'vs raw client': ratio(streams.rate, raw.rate),
          },
        ]
      : []),
    {
      consumer: 'same librdkafka client, no processing (engine settings, cold start in a group)',
      events,
      seconds: raw.seconds.toFixed(2),
      'events/s': Math.round(raw.rate),
      'vs raw client': '1.00',
    },
    {
      consumer: 'same client, best case (hand-assigned, 64 MiB queue, timed after connect)',
      events,
      seconds: rawBest.seconds.toFixed(2),
      'events/s': Math.round(rawBest.rate),
      'vs raw client': ratio(rawBest.rate, raw.rate),
    },
    ...(kcat
      ? [
          {
            consumer: 'kcat to /dev/null (C)',
            events,
            seconds: kcat.seconds.toFixed(2),
            'events/s': Math.round(kcat.rate),
            'vs raw client': ratio(kcat.rate, raw.rate),
          },
        ]
      : []),
    {
      consumer: 'naive: one transaction per event',
      events: naive.events,
      seconds: naive.seconds.toFixed(2),
      'events/s': Math.round(naive.rate),
      'vs raw client': ratio(naive.rate, raw.rate),
    },
  ];
  const result = {
    at: new Date().toISOString(),
    command: `npm run bench${values.quick ? ' -- --quick' : ''}`,
    machine: {
      cores: os.availableParallelism(),
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    events,
    partitions,
    users,
    engine: {
      seconds: engineSeconds,
      rate: engineRate,
      firstCommitSeconds: drain.firstCommitSeconds,
      peakRssMiB: drain.peakRssMiB,
      mismatches,
    },
    engine20Rules: { seconds: drain20.seconds, rate: drain20.rate, peakRssMiB: drain20.peakRssMiB },
    // CPU seconds each party used per event (cores x seconds / events) in the median default-rules drain.
    engineCpuPerEventMicros: perEvent(drain.cpu, events),
    kafkaStreams: streams
      ? {
          threads: streams.threads,
          seconds: streams.seconds,
          rate: streams.rate,
          firstCommitSeconds: streams.firstCommitSeconds,
          peakRssMiB: streams.peakRssMiB,
          invalid: streams.invalid,
          mismatches: streamsMismatches,
          cpuPerEventMicros: perEvent(streams.cpu, events),
        }
      : { skipped: streamsSkipped },
    raw,
    rawBest,
    kcat,
    naive,
    runs: {
      repeat: reps,
      rawRates: rawRuns.map((r) => r.rate),
      engineRates: drains.map((d) => d.rate),
      engine20RulesRates: drains20.map((d) => d.rate),
      engineLifecycleRates: drainsLifecycle.map((d) => d.rate),
      kafkaStreamsRates: Object.fromEntries(
        [...streamsRuns].map(([t, r]) => [`${t} thread${t > 1 ? 's' : ''}`, r.map((x) => x.rate)]),
      ),
    },
    ratios: {
      engineVsRaw: engineRate / raw.rate,
      engineVsRawBestCase: engineRate / rawBest.rate,
      engineVsNaive: engineRate / naive.rate,
      twentyRulesVsDefault: drain20.rate / engineRate,
      lifecycleVsDefault: drainLifecycle.rate / engineRate,
      engineVsKafkaStreams: streams ? engineRate / streams.rate : null,
    },
    series,
    steady: steadyRuns,
    scale,
    memory,
    api,
    ledger: ledgerBytes,
    history: history && { ...history, vsEmptyDrain: history.rate / drain.rate },
  };
  const dir = path.join(ROOT_DIR, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const stamp = result.at.replace(/[:.]/g, '-');
  writeFileSync(path.join(dir, `${stamp}.json`), JSON.stringify(result, null, 2));
  writeFileSync(
    path.join(dir, `${stamp}-drain.svg`),
    lineChartSvg(
      `Backlog drain: ${events} events, ${partitions} partitions`,
      'seconds since engine start',
      'events committed per second',
      [
        { name: 'engine commit rate', points: commitRate(series), color: '#1f77b4' },
        {
          name: `raw client average (${Math.round(raw.rate)}/s)`,
          points: [
            [0, raw.rate],
            [engineSeconds, raw.rate],
          ],
          color: '#d62728',
        },
        ...(streams
          ? [
              {
                name: `Kafka Streams commit rate (${streams.threads} thread${streams.threads > 1 ? 's' : ''})`,
                points: commitRate(streams.series),
                color: '#2ca02c',
              },
            ]
          : []),
      ],
    ),
  );
  const colors = ['#1f77b4', '#ff7f0e', '#2ca02c'];
  if (scale.length > 1) {
    writeFileSync(
      path.join(dir, `${stamp}-scale.svg`),
      lineChartSvg(
        `Scale: 1-3 engine processes on the same ${events}-event backlog (${result.machine.cores} shared cores)`,
        'seconds since start',
        'events committed per second',
        scale.map((x, i) => ({
          name: `${x.processes} process${x.processes > 1 ? 'es' : ''} (${Math.round(x.rate)}/s)`,
          points: commitRate(x.series),
          color: colors[i % colors.length]!,
        })),
      ),
    );
  }
  if (memory) {
    writeFileSync(
      path.join(dir, `${stamp}-memory.svg`),
      lineChartSvg('Engine resident memory while draining', 'seconds since engine start', 'RSS (MiB)', [
        {
          name: `${events} events, ${users} users (peak ${drain.peakRssMiB} MiB)`,
          points: drain.rss,
          color: '#1f77b4',
        },
        {
          name: `${memory.events} events, ${memory.users} distinct users (peak ${memory.peakRssMiB} MiB)`,
          points: memory.rss,
          color: '#d62728',
        },
        {
          name: '1 GiB',
          points: [
            [0, 1024],
            [Math.max(engineSeconds, memory.rss[memory.rss.length - 1]?.[0] ?? 0), 1024],
          ],
          color: '#999',
        },
      ]),
    );
  }
  // Percentiles on a "nines" axis: 1 = p90, 2 = p99, 3 = p99.9.
  const nines = (m: { percentilesMs: [number, number][] }): [number, number][] =>
    m.percentilesMs.filter(([, ms]) => Number.isFinite(ms)).map(([p, ms]) => [Math.log10(100 / (100 - p)), ms]);
  writeFileSync(
    path.join(dir, `${stamp}-api.svg`),
    lineChartSvg(
      'GET /points latency by percentile (autocannon, 32 connections)',
      'percentile in nines: 1 = p90, 2 = p99, 3 = p99.9, 4 = p99.99',
      'latency (ms, 1 ms resolution)',
      [
        {
          name: `engine, Postgres behind it (${api.engine.requestsPerSec} req/s)`,
          points: nines(api.engine),
          color: '#1f77b4',
        },
        {
          name: `same uWS server, constant body (${api.constant.requestsPerSec} req/s)`,
          points: nines(api.constant),
          color: '#d62728',
        },
      ],
    ),
  );
  console.log(
    `\nBacklog drain on ${result.machine.cores} cores (Kafka, Postgres and the engine share them), ${events} events, ${partitions} partitions, ${users} users`,
  );
  console.log(table(rowsOut));
  if (reps > 1) {
    const list = (rates: number[]): string => rates.map((r) => Math.round(r)).join(', ');
    console.log(
      `medians of ${reps} interleaved runs each: raw client ${list(rawRuns.map((r) => r.rate))}; engine ${list(drains.map((d) => d.rate))}; 20 rules ${list(drains20.map((d) => d.rate))}` +
        [...streamsRuns]
          .map(([t, r]) => `; Kafka Streams ${t} thread${t > 1 ? 's' : ''} ${list(r.map((x) => x.rate))}`)
          .join('') +
        ' events/s',
    );
  }
  const cpuLine = (c: CpuSeconds, own: 'engine' | 'kafka-streams'): string =>
    `${own === 'engine' ? 'engine' : 'Kafka Streams JVM'} ${microsPerEvent(c[own], events)} µs, Postgres ${microsPerEvent(c.postgres, events)} µs, Kafka broker ${microsPerEvent(c.kafka, events)} µs, other processes ${microsPerEvent(c.other, events)} µs`;
  console.log(
    `\nCPU per event (cores x seconds / events, median run; the machine is shared, so "other" is whatever else ran):\n  engine drain: ${cpuLine(drain.cpu, 'engine')}` +
      (streams
        ? `\n  Kafka Streams drain (${streams.threads} thread${streams.threads > 1 ? 's' : ''}): ${cpuLine(streams.cpu, 'kafka-streams')}`
        : ''),
  );
  if (streams) {
    console.log(
      `\nengine / Kafka Streams: ${ratio(engineRate, streams.rate)}x (Kafka Streams medians: ${streamsByThreads.map((x) => `${x.threads} thread${x.threads > 1 ? 's' : ''} ${Math.round(x.rate)}`).join(', ')} events/s; ` +
        `balances checked: ${expected.balances.size} users in each of its ${reps * streamsThreads.length} runs, ${streamsMismatches} mismatches; invalid messages skipped ${streams.invalid}, the replay counts ${expected.bad})`,
    );
  } else {
    console.log(`\n${streamsSkipped}`);
  }
  console.log(
    `\nengine vs raw client: ${ratio(engineRate, raw.rate)}x (vs its best case ${ratio(engineRate, rawBest.rate)}x)   engine vs naive: ${ratio(engineRate, naive.rate)}x   balances checked: ${expected.balances.size} users in each of ${reps} default-rules runs, ${mismatches} mismatches`,
  );
  console.log(
    `\nSteady state: the producer (${steady.producer}) at a fixed rate for ${steady.seconds} s (load generated beforehand); freshness = produce -> visible in GET /points, a probe every 100 ms after a ${steady.warmupSeconds} s warm-up:`,
  );
  console.log(
    table(
      steadyRuns.map((s) => ({
        'target events/s': s.rate,
        'produced events/s': Math.round(s.producedPerSec),
        'freshness p50': `${s.freshnessMs.p50.toFixed(0)} ms`,
        'freshness p99': `${s.freshnessMs.p99.toFixed(0)} ms`,
        'freshness max': `${s.freshnessMs.max.toFixed(0)} ms`,
        probes: s.freshnessMs.samples,
        'flush p50': `${(s.flushSeconds.p50 * 1000).toFixed(1)} ms`,
        'flush p99': `${(s.flushSeconds.p99 * 1000).toFixed(1)} ms`,
        'max lag': Math.max(0, ...s.lag.map((x) => x[1])),
      })),
    ),
  );
  console.log(
    '(the producer shares the 2 cores with the engine, Kafka and Postgres: "produced events/s" is what it achieved)',
  );
  writeFileSync(
    path.join(dir, `${stamp}-steady.svg`),
    lineChartSvg(
      `Steady state at ${steady.rate} events/s (produced ${Math.round(steady.producedPerSec)}/s)`,
      'seconds',
      'lag (events) / freshness (ms)',
      [
        { name: 'total consumer lag (events)', points: steady.lag, color: '#1f77b4' },
        { name: 'freshness of probe events (ms)', points: steady.probes, color: '#2ca02c' },
      ],
    ),
  );
  console.log(
    `\nAPI: autocannon, 32 connections, GET /points/{random of 100k users} vs the same uWS server answering a constant body:`,
  );
  console.log(
    table(
      [api.engine, api.constant].map((r) => ({
        target: r.label,
        'req/s': r.requestsPerSec,
        'p50 ms': r.p50Ms,
        'p99 ms': r.p99Ms,
      })),
    ),
  );
  console.log(`engine / constant: ${api.ratio.toFixed(2)}`);
  if (scale.length > 1) {
    console.log(
      `\nScale: processes in one consumer group on the same ${events}-event backlog. On ${result.machine.cores} cores shared with Kafka and Postgres this shows the overhead of more processes, not a speedup:`,
    );
    console.log(
      table(
        scale.map((x) => ({
          processes: x.processes,
          seconds: x.seconds.toFixed(2),
          'events/s': Math.round(x.rate),
          'vs 1 process': ratio(x.rate, scale[0]!.rate),
        })),
      ),
    );
  }
  console.log(
    `\nMemory: peak RSS of the engine process ${result.engine.peakRssMiB} MiB draining the ${events}-event backlog` +
      (memory
        ? `; ${memory.peakRssMiB} MiB draining ${memory.events} events over ${memory.users} distinct users (${Math.round(memory.rate)} events/s)`
        : ''),
  );
  console.log(`20-rule file vs default rules: ${ratio(drain20.rate, engineRate)}x the default's events/s`);
  console.log(
    `engine peak RSS ${result.engine.peakRssMiB} MiB; results: bench/results/${stamp}.json, charts: bench/results/${stamp}-{drain,steady,api${scale.length > 1 ? ',scale' : ''}${memory ? ',memory' : ''}}.svg`,
  );
  if (ledgerBytes) console.log(`\nLedger after the first default drain: ${formatLedgerSize(ledgerBytes)}`);
  if (history)
    console.log(
      `History: the drain into a database whose ledger held ${history.historyRows} older rows (made in ${history.fillSeconds.toFixed(0)} s): ${Math.round(history.rate)} events/s, ${(history.rate / drain.rate).toFixed(2)}x the empty database's median, ${history.mismatches} mismatches`,
    );
  if (mismatches > 0 || streamsMismatches > 0) process.exitCode = 1;
  if (!values.keep) await dropDatabases(ends.databaseUrl, `${run}_`);
}

/** Benchmark databases hold millions of ledger rows: drop them unless --keep asks otherwise. */
async function dropDatabases(adminUrl: string, prefix: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  let names: string[];
  try {
    names = (
      await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [prefix])
    ).rows.map((r) => r.datname);
  } finally {
    await admin.end();
  }
  for (const name of names) await dropDatabase(adminUrl, name);
}

/** CPU microseconds per event for each party. */
function perEvent(c: CpuSeconds, events: number): Record<string, number> {
  return Object.fromEntries(Object.entries(c).map(([party, s]) => [party, (s * 1e6) / events]));
}

/** The run with the median rate (the middle one of an odd count). */
function median<T extends { rate: number }>(runs: T[]): T {
  return [...runs].sort((a, b) => a.rate - b.rate)[Math.floor(runs.length / 2)]!;
}

/** Commit rate over a 1 s window: single flushes commit thousands of events at once, so shorter windows only show the flushes. */
function commitRate(series: [number, number][]): [number, number][] {
  return series.map((p) => {
    const back = series.find((q) => q[0] >= p[0] - 1) ?? p;
    return [p[0], p[0] - back[0] > 0 ? (p[1] - back[1]) / (p[0] - back[0]) : 0];
  });
}

function ratio(a: number, b: number): string {
  return (a / b).toFixed(2);
}

main().catch((e: unknown) => {
  console.error(`[bench] error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
