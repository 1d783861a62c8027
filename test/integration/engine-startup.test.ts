import { freePort } from '../support/free-port.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExpectedBalances } from '../../tools/simulator/expected-balances.js';
import { generateMessages } from '../../tools/simulator/generator.js';
import { produceMessages } from '../../tools/simulator/produce.js';
import { startBroker, stopBroker, type BrokerSettings } from '../../tools/stack/kafka-broker.js';
import { ROOT_DIR } from '../../tools/stack/paths.js';
import { startEngineProcess, type EngineProcess } from './support/engine-process.js';
import { compareBalances, waitForDrain } from './support/scenario.js';
import { freshDatabase, freshTopic, stackEnv, waitFor } from './support/stack.js';

/** A TCP relay on `port` to the shared Postgres: "Postgres comes up" from the engine's point of view, without touching the real server. */
function postgresRelay(port: number, target: URL): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const readyz = async (port: number): Promise<{ status: number; body: { ready: boolean; reasons: string[] } }> => {
  const r = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: r.status, body: (await r.json()) as { ready: boolean; reasons: string[] } };
};

describe('the HTTP port is ours alone', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let first: EngineProcess | undefined;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await first?.stop('SIGKILL');
    await db?.drop();
  });

  it('a second engine on the same port exits 2 with one line naming the port and HTTP_PORT; the first keeps serving', async () => {
    const { topic } = await freshTopic(2);
    const port = await freePort();
    const env = {
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: `${topic}-g`,
      DATABASE_URL: db.url,
      KAFKA_BROKERS: stackEnv().brokers,
      HTTP_PORT: String(port),
    };
    first = await startEngineProcess(env);
    expect(first.port()).toBe(port);

    const second = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT_DIR, 'src/main.ts')], {
      cwd: ROOT_DIR,
      env: { ...process.env, LOG_LEVEL: 'info', WORKER_THREADS: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    second.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    second.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => second.once('exit', resolve));
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r('still running after 30 s'), 30_000)),
    ]);
    if (second.exitCode === null) second.kill('SIGKILL');
    expect(code).toBe(2);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`127.0.0.1:${port}`);
    expect(lines[0]).toContain('HTTP_PORT');
    expect(stdout).not.toContain('http listening');

    // Every request still reaches the first engine (with SO_REUSEPORT the kernel would have split them).
    for (let i = 0; i < 20; i++) expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(first.proc.exitCode).toBeNull();
  }, 120_000);
});

describe('start-up waits for Kafka and Postgres', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let engine: EngineProcess | undefined;
  let relay: net.Server | undefined;
  let broker: BrokerSettings | undefined;

  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await engine?.stop('SIGKILL');
    relay?.close();
    if (broker) {
      await stopBroker(broker, () => undefined);
      rmSync(broker.dir, { recursive: true, force: true });
    }
    await db?.drop();
  });

  it('an engine started before Postgres and before the broker becomes ready once they come up, and loses no event', async () => {
    const pgPort = await freePort();
    const kafkaPort = await freePort();
    const dbUrl = new URL(db.url);
    const viaRelay = new URL(db.url);
    viaRelay.port = String(pgPort);
    engine = await startEngineProcess(
      {
        KAFKA_TOPIC: 'events',
        KAFKA_TOPIC_PARTITIONS: '3',
        KAFKA_GROUP_ID: 'g',
        DATABASE_URL: viaRelay.toString(),
        KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
        FLUSH_MAX_AGE_MS: '50',
      },
      60_000,
      'listening',
    );
    const port = engine.port();
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const waitingPg = await waitFor(
      'readyz names postgres',
      async () => {
        const r = await readyz(port);
        return r.body.reasons.some((x) => x.includes('postgres')) ? r : undefined;
      },
      20_000,
    );
    expect(waitingPg.status).toBe(503);
    expect(waitingPg.body.ready).toBe(false);

    // Several attempts fail meanwhile (backoff from 100 ms), yet the wait is logged once.
    await new Promise((r) => setTimeout(r, 3000));
    // Shown whole when a count is off: the reason and step say which attempt failed.
    const waitLines = (dep: string): string[] => engine!.logs.filter((l) => l.includes(`${dep} not answering yet`));
    expect(waitLines('postgres'), waitLines('postgres').join('\n')).toHaveLength(1);
    expect(waitLines('postgres')[0]).toContain('"step":"migrations"');

    relay = await postgresRelay(pgPort, dbUrl);
    const waitingKafka = await waitFor(
      'readyz names kafka',
      async () => {
        const r = await readyz(port);
        return r.body.reasons.some((x) => x.includes('kafka')) ? r : undefined;
      },
      30_000,
    );
    expect(waitingKafka.status).toBe(503);
    expect(engine.logs.some((l) => l.includes('postgres answers'))).toBe(true);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'startup-broker-'));
    broker = { host: '127.0.0.1', port: kafkaPort, controllerPort: await freePort(), dir, heap: '384m' };
    await startBroker(broker, () => undefined);
    await waitFor('engine started', async () => engine!.logs.some((l) => l.includes('"engine started"')), 90_000);
    // A broker just started may answer the topics step and refuse a later one for a moment: that is logged
    // as "not yet for <step>", not as a second "not answering".
    expect(waitLines('kafka'), engine.logs.filter((l) => l.includes('"dependency":"kafka"')).join('\n')).toHaveLength(
      1,
    );
    expect(waitLines('kafka')[0]).toContain('"step":"topics"');
    expect(engine.proc.exitCode).toBeNull();

    // Events produced once the broker is up are all applied, exactly.
    const expected = new ExpectedBalances();
    const stream = function* () {
      for (const m of generateMessages(3000, { users: 200, skew: 1.1, redeemRatio: 0.2, badRatio: 0.01, seed: 7 })) {
        expected.add(m);
        yield m;
      }
    };
    const sent = await produceMessages(`127.0.0.1:${kafkaPort}`, 'events', stream());
    await waitForDrain(db.pool, 'events', sent.sent, 90_000);
    expect(await compareBalances(db.pool, expected)).toEqual([]);
    const ready = await waitFor('ready', async () => ((await readyz(port)).status === 200 ? true : undefined), 30_000);
    expect(ready).toBe(true);
  }, 240_000);
});
