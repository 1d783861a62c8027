import net from 'node:net';
import { KafkaJS } from '../src/kafka/library.js';
import { ensureTopics, topicMessageCount } from '../src/kafka/admin.js';
import { generateMessages } from '../tools/simulator/generator.js';
import { produceMessages } from '../tools/simulator/produce.js';
import { ensureDatabase, withDatabase } from '../tools/stack/postgres-server.js';
import { kcatBinary, produceWithKcat } from '../tools/simulator/kcat-producer.js';
import { progress, startEngineChild } from './support.js';

export interface SteadyResult {
  rate: number;
  seconds: number;
  produced: number;
  /** What the producer achieved (it shares the cores with the engine, Kafka and Postgres). */
  producedPerSec: number;
  /** The load generator: kcat (C) when installed, else the simulator's JavaScript producer. */
  producer: 'kcat' | 'javascript';
  /** Probes start this long after the producer, once the engine is warm. */
  warmupSeconds: number;
  freshnessMs: { p50: number; p99: number; max: number; samples: number };
  flushSeconds: { p50: number; p99: number };
  /** Flushes the engine committed since it started, warm-up included (its flush histogram's count). */
  flushes: number;
  /** [seconds, total lag] */
  lag: [number, number][];
  /** [seconds, freshness ms] per probe */
  probes: [number, number][];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Quantile from a Prometheus histogram's cumulative buckets (linear within a bucket). */
export function histogramQuantile(buckets: [number, number][], q: number): number {
  const total = buckets[buckets.length - 1]?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let prevLe = 0,
    prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

function parseFlushBuckets(metrics: string): [number, number][] {
  const out: [number, number][] = [];
  for (const m of metrics.matchAll(/^loyalty_flush_duration_seconds_bucket\{le="([^"]+)"\} (\d+)/gm))
    out.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  return out;
}

function totalLag(metrics: string): number {
  let sum = 0;
  for (const m of metrics.matchAll(/^loyalty_consumer_lag\{[^}]*\} (\d+)/gm)) sum += Number(m[1]);
  return sum;
}

/**
 * Steady state: the producer at a fixed rate while probe events (one new user each) measure
 * freshness: the time from producing an event until GET /points shows it. The load is generated
 * before the clock starts (so generating it does not compete with the engine for the cores);
 * a probe leaves every 100 ms after a warm-up, each polling on its own, so a slow one does not
 * hold back the next and the p99 rests on hundreds of samples.
 */
export async function steadyState(o: {
  brokers: string;
  databaseUrl: string;
  run: string;
  rate: number;
  seconds: number;
  partitions: number;
  users: number;
  warmupSeconds?: number;
}): Promise<SteadyResult> {
  const warmupSeconds = o.warmupSeconds ?? 3;
  const topic = `${o.run}_steady`;
  await ensureTopics(o.brokers, [
    { topic, partitions: o.partitions },
    { topic: `${topic}.dlq`, partitions: o.partitions },
  ]);
  const dbName = `${o.run}_steady_db`;
  await ensureDatabase(o.databaseUrl, dbName);
  const port = await freePort();
  const engine = startEngineChild({
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: `${topic}_g`,
    DATABASE_URL: withDatabase(o.databaseUrl, dbName),
    KAFKA_BROKERS: o.brokers,
    HTTP_PORT: String(port),
  });
  const base = `http://127.0.0.1:${port}`;
  for (
    let i = 0;
    !(await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    ));
    i++
  ) {
    if (i > 600 || engine.proc.exitCode !== null) throw new Error('engine not ready for the steady-state run');
    await new Promise((r) => setTimeout(r, 100));
  }
  const p = progress(`steady state at ${o.rate}/s for ${o.seconds} s`);
  const messages = [
    ...generateMessages(Math.round(o.rate * o.seconds), {
      users: o.users,
      skew: 1.1,
      redeemRatio: 0.2,
      badRatio: 0,
      seed: 77,
    }),
  ];
  const started = performance.now();
  const t = (): number => (performance.now() - started) / 1000;
  const kcat = kcatBinary();
  const load = kcat
    ? produceWithKcat(kcat, o.brokers, topic, messages, o.rate)
    : produceMessages(o.brokers, topic, messages, {
        ratePerSec: o.rate,
        batchSize: Math.max(100, Math.floor(o.rate / 20)),
      });
  let loadDone = false;
  let loadSeconds = 0;
  void load.finally(() => {
    loadDone = true;
    loadSeconds = t();
  });

  const prober = new KafkaJS.Kafka({
    kafkaJS: { brokers: o.brokers.split(','), logLevel: KafkaJS.logLevel.ERROR },
  }).producer({ 'linger.ms': 0, kafkaJS: { idempotent: true, acks: -1 } });
  await prober.connect();
  const probes: [number, number][] = [];
  const lag: [number, number][] = [];
  let n = 0;
  const lagTimer = setInterval(() => {
    fetch(`${base}/metrics`)
      .then((r) => r.text())
      .then(
        (m) => lag.push([t(), totalLag(m)]),
        () => undefined,
      );
  }, 500);
  const probe = async (): Promise<void> => {
    const user = `probe-${o.run}-${n++}`;
    const sentAt = performance.now();
    await prober.send({
      topic,
      messages: [
        {
          key: user,
          value: JSON.stringify({
            user_id: user,
            event_type: 'purchase',
            amount: 1,
            timestamp: '2026-11-25T10:00:00Z',
          }),
        },
      ],
    });
    for (;;) {
      const ok = await fetch(`${base}/points/${user}`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (performance.now() - sentAt > 30_000) throw new Error('a probe event did not show up within 30 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    probes.push([(sentAt - started) / 1000, performance.now() - sentAt]);
  };
  await new Promise((r) => setTimeout(r, warmupSeconds * 1000));
  const running: Promise<void>[] = [];
  while (!loadDone) {
    running.push(probe());
    const last = probes[probes.length - 1];
    p.update(`${t().toFixed(0)} s, ${probes.length} probes${last ? `, last freshness ${last[1].toFixed(0)} ms` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all(running);
  probes.sort((a, b) => a[0] - b[0]);
  clearInterval(lagTimer);
  const produced = (await load).sent;
  // kcat reports failed deliveries only on stderr: count what the topic holds (the load plus the probes).
  const held = await topicMessageCount(o.brokers, topic);
  if (held < produced + probes.length)
    throw new Error(
      `the topic holds ${held} messages, fewer than the ${produced} produced and ${probes.length} probes`,
    );
  const metrics = await (await fetch(`${base}/metrics`)).text();
  await prober.disconnect();
  engine.proc.kill('SIGTERM');
  await engine.exited;
  const fresh = probes.map((x) => x[1]).sort((a, b) => a - b);
  const buckets = parseFlushBuckets(metrics);
  p.done(`${produced} events, ${probes.length} probes`);
  return {
    rate: o.rate,
    seconds: o.seconds,
    produced,
    producedPerSec: produced / loadSeconds,
    producer: kcat ? 'kcat' : 'javascript',
    warmupSeconds,
    freshnessMs: {
      p50: quantile(fresh, 0.5),
      p99: quantile(fresh, 0.99),
      max: fresh[fresh.length - 1] ?? NaN,
      samples: fresh.length,
    },
    flushSeconds: { p50: histogramQuantile(buckets, 0.5), p99: histogramQuantile(buckets, 0.99) },
    flushes: buckets.find(([le]) => le === Infinity)?.[1] ?? 0,
    lag,
    probes,
  };
}
