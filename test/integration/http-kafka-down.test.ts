import { freePort } from '../support/free-port.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, stopBroker, type BrokerSettings } from '../../tools/stack/kafka-broker.js';
import { startEngineProcess, type EngineProcess } from './support/engine-process.js';
import { freshDatabase, waitFor } from './support/stack.js';

// The shared broker must stay up for the other tests: this one starts a broker of its own and stops it.
describe('POST /events when Kafka goes away', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let engine: EngineProcess | undefined;
  let broker: BrokerSettings;
  let brokerUp = false;

  beforeAll(async () => {
    db = await freshDatabase();
    broker = {
      host: '127.0.0.1',
      port: await freePort(),
      controllerPort: await freePort(),
      dir: mkdtempSync(path.join(os.tmpdir(), 'http-kafka-down-')),
      heap: '384m',
    };
    await startBroker(broker, () => undefined);
    brokerUp = true;
  }, 150_000);
  afterAll(async () => {
    await engine?.stop('SIGKILL');
    if (brokerUp) await stopBroker(broker, () => undefined);
    await db?.drop();
    rmSync(broker.dir, { recursive: true, force: true });
  });

  it('202 while the broker is up; 503 with the event_id within the delivery timeout once it is down; reads keep working', async () => {
    engine = await startEngineProcess({
      KAFKA_BROKERS: `${broker.host}:${broker.port}`,
      KAFKA_TOPIC: 'events',
      KAFKA_TOPIC_PARTITIONS: '2',
      KAFKA_GROUP_ID: 'g',
      DATABASE_URL: db.url,
      FLUSH_MAX_AGE_MS: '50',
    });
    const base = `http://127.0.0.1:${engine.port()}`;
    const post = (eventId: string) =>
      fetch(`${base}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          event_id: eventId,
          user_id: 'dora',
          event_type: 'purchase',
          amount: 10,
          timestamp: '2026-11-25T10:00:00Z',
        }),
      });
    expect((await post('up-1')).status).toBe(202);
    await waitFor('dora applied', async () => (await fetch(`${base}/points/dora`)).status === 200, 30_000);

    await stopBroker(broker, () => undefined);
    brokerUp = false;
    const started = Date.now();
    const res = await post('down-1');
    const took = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({
      error: 'kafka_unavailable',
      event_id: 'down-1',
      detail: expect.any(String),
    });
    expect(took).toBeLessThan(8_000); // the publisher's bound is 5 s (librdkafka alone took 8-12 s)

    // Postgres is still there: balances are served, and the process is alive.
    const balance = await fetch(`${base}/points/dora`);
    expect(balance.status).toBe(200);
    expect(((await balance.json()) as { points: number }).points).toBe(10);
    expect(engine.proc.exitCode).toBeNull();
  }, 120_000);
});
