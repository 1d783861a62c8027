import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateMessages, userName, type SimulatedMessage } from './simulator/generator.js';
import { produceMessages } from './simulator/produce.js';
import { applyStackEnv } from './stack/env-file.js';
import { ROOT_DIR, STACK_DIR } from './stack/paths.js';
import { stackUp } from './stack/stack.js';
import { errorText } from '../src/errors.js';
import pg from 'pg';
import { createAdmin, highWatermarks, topicId } from '../src/kafka/admin.js';
import { migrate } from '../src/store/migrations.js';
import { committedEvents } from '../src/store/offsets.js';
import { bindTopicIdentity, TopicReplacedError } from '../src/store/topic-identity.js';
import { dropDatabase, ensureDatabase, withDatabase } from './stack/postgres-server.js';

/**
 * The whole thing in one command: the stack, the engine, a simulated stream of events,
 * and a balance to watch change through the API. Ctrl-C (or --duration) stops the engine
 * and the producer; the stack stays up for the next run (`npm run stack -- down` stops it).
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rate: { type: 'string' }, duration: { type: 'string' }, users: { type: 'string' } },
  });
  const rate = Number(values.rate ?? 2000);
  const duration = values.duration === undefined ? Infinity : Number(values.duration);
  const users = Number(values.users ?? 10_000);
  // A DATABASE_URL of the caller's is used as given; otherwise the demo keeps its events in a database of its own.
  const givenDatabase = process.env.DATABASE_URL;
  applyStackEnv();
  const say = (l: string): void => console.log(`[demo] ${l}`);
  const port = process.env.HTTP_PORT ?? '8080';
  const base = `http://127.0.0.1:${port}`;
  say(`console: ${base}/  (open it in a browser; it goes live once the engine is up)`);
  const ends = await stackUp((l) => console.log(`[stack] ${l}`));
  const topic = process.env.KAFKA_TOPIC ?? 'loyalty-events';
  const databaseUrl = givenDatabase ?? (await demoDatabase(ends.databaseUrl, ends.kafkaBrokers, topic, say));
  const logFile = path.join(STACK_DIR, 'engine.log');
  const out = openSync(logFile, 'a');
  const engine = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT_DIR, 'src/main.ts')], {
    cwd: ROOT_DIR,
    env: { ...process.env, KAFKA_BROKERS: ends.kafkaBrokers, DATABASE_URL: databaseUrl, HTTP_PORT: port },
    stdio: ['ignore', out, out],
  });
  const exited = new Promise<number | null>((resolve) => engine.once('exit', resolve));
  say(`engine starting (logs: ${path.relative(process.cwd(), logFile)}) ...`);
  for (let i = 0; ; i++) {
    if (engine.exitCode !== null) throw new Error(`the engine exited (code ${engine.exitCode}): ${lastLine(logFile)}`);
    const ok = await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 600) throw new Error(`the engine was not ready after 60 s: see ${logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const watched = userName(0);
  say(`engine ready. Console: ${base}/   Try:  curl ${base}/points/${watched}   and   curl ${base}/metrics`);
  say(
    `producing ${rate} events/s for ${users} users${Number.isFinite(duration) ? ` for ${duration} s` : ' until Ctrl-C'}`,
  );

  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const deadline = Date.now() + duration * 1000;
  const stream = function* (): Generator<SimulatedMessage> {
    for (const m of generateMessages(Number.MAX_SAFE_INTEGER, {
      users,
      skew: 1.1,
      redeemRatio: 0.2,
      badRatio: 0.001,
      seed: Date.now() % 1e6,
    })) {
      if (stopping || engine.exitCode !== null || Date.now() > deadline) return;
      yield m;
    }
  };
  const watcher = setInterval(() => {
    fetch(`${base}/points/${watched}`)
      .then((r) => r.text())
      .then(
        (body) => say(`GET /points/${watched} -> ${body}`),
        () => undefined,
      );
  }, 2000);
  const sent = await produceMessages(ends.kafkaBrokers, topic, stream(), {
    ratePerSec: rate,
    batchSize: Math.max(100, Math.floor(rate / 10)),
  });
  clearInterval(watcher);
  say(`produced ${sent.sent} events; stopping the engine (it flushes and commits first) ...`);
  if (engine.exitCode !== null)
    throw new Error(`the engine exited (code ${engine.exitCode}) while events were produced: ${lastLine(logFile)}`);
  const final = await fetch(`${base}/points/${watched}`).then(
    (r) => r.text(),
    () => '(no answer)',
  );
  engine.kill('SIGTERM');
  const code = await exited;
  say(
    `engine exited with ${code}. The stack is still up: "npm run stack -- down" stops it. Last balance read: ${final}`,
  );
  // The demo succeeds only if the engine did: CI runs it and must see a failure.
  if (code !== 0) throw new Error(`the engine's exit code was ${code}: ${lastLine(logFile)}`);
}

const DEMO_DATABASE = 'loyalty_demo';

/**
 * The demo's database on the stack's server, emptied when it holds positions of another Kafka topic: each
 * checkout's stack starts a Kafka of its own, while the machine's Postgres outlives it, and the engine refuses
 * positions that belong to another topic (src/store/topic-identity.ts). Only this database is ever emptied.
 */
async function demoDatabase(
  stackUrl: string,
  brokers: string,
  topic: string,
  say: (l: string) => void,
): Promise<string> {
  await ensureDatabase(stackUrl, DEMO_DATABASE);
  const url = withDatabase(stackUrl, DEMO_DATABASE);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  let stale: string | null = null;
  try {
    await migrate(pool);
    if (!(await topicExists(brokers, topic)))
      stale = (await committedEvents(pool, topic)) > 0 ? `${topic} does not exist in this Kafka` : null;
    else
      await bindTopicIdentity(pool, topic, {
        id: await topicId(brokers, topic),
        highWatermarks: () => highWatermarks(brokers, topic),
      }).catch((e: unknown) => {
        if (!(e instanceof TopicReplacedError)) throw e;
        stale = e.message;
      });
  } finally {
    await pool.end();
  }
  if (stale !== null) {
    say(`database ${DEMO_DATABASE} held an earlier stack's positions (${stale}); starting it empty`);
    await dropDatabase(stackUrl, DEMO_DATABASE);
    await ensureDatabase(stackUrl, DEMO_DATABASE);
  }
  return url;
}

async function topicExists(brokers: string, topic: string): Promise<boolean> {
  const admin = createAdmin(brokers);
  await admin.connect();
  try {
    return (await admin.listTopics({ timeout: 10_000 })).includes(topic);
  } finally {
    await admin.disconnect();
  }
}

/** The engine's last log line, so a failed start says why without opening the log. */
function lastLine(file: string): string {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  return lines[lines.length - 1] ?? `see ${file}`;
}

main().catch((e: unknown) => {
  console.error(`[demo] error: ${errorText(e)}`);
  process.exit(1);
});
