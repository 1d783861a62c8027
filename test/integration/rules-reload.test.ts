import { copyFileSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../tools/stack/paths.js';
import { produceMessages } from '../../tools/simulator/produce.js';
import type { SimulatedMessage } from '../../tools/simulator/generator.js';
import { engineEnv, startEngineProcess, type EngineProcess } from './support/engine-process.js';
import { freshDatabase, freshTopic, stackEnv, waitFor } from './support/stack.js';

// A Wednesday: the default rules give floor(amount) points.
const purchase = (user: string, id: string, amount: number): SimulatedMessage => ({
  key: user,
  value: Buffer.from(
    JSON.stringify({ event_id: id, user_id: user, event_type: 'purchase', amount, timestamp: '2026-11-25T10:00:00Z' }),
  ),
  bad: false,
});

describe('rules hot reload', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let engine: EngineProcess | undefined;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await engine?.stop('SIGKILL');
    await db.drop();
  });

  const ledger = async (id: string): Promise<{ points: string; rules_version: string } | undefined> =>
    (
      await db.pool.query<{ points: string; rules_version: string }>(
        'SELECT points, v.version AS rules_version FROM point_transactions t JOIN rules_versions v ON v.id = t.rules_version_id WHERE event_id = $1',
        [id],
      )
    ).rows[0];

  it('applies a changed file to later events, rejects a bad one and keeps the rules in force', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    const file = path.join(dir, 'rules.yaml');
    copyFileSync(path.join(ROOT_DIR, 'config/rules.yaml'), file);
    const { topic } = await freshTopic(2);
    const { brokers } = stackEnv();
    engine = await startEngineProcess(engineEnv(topic, db.url, { RULES_FILE: file, FLUSH_MAX_AGE_MS: '50' }));

    await produceMessages(brokers, topic, [purchase('ann', 'p1', 10)]);
    const first = await waitFor('p1 in the ledger', () => ledger('p1'), 30_000);
    expect(first.points).toBe('10');

    // A triple-points rule on every day, added by rewriting the file: picked up without a restart.
    const tripled = readFileSync(file, 'utf8').replace(
      /^rules:.*$/m,
      'rules:\n  - name: triple-everything\n    multiplier: 3',
    );
    writeFileSync(file, tripled);
    const metricsUrl = `http://127.0.0.1:${engine.port()}/metrics`;
    await waitFor(
      'new rules version exported',
      async () => !(await (await fetch(metricsUrl)).text()).includes(`version="${first.rules_version}"`),
      20_000,
    );
    await produceMessages(brokers, topic, [purchase('ann', 'p2', 10)]);
    const second = await waitFor('p2 in the ledger', () => ledger('p2'), 30_000);
    expect(second.points, engine.logs.filter((l) => l.includes('rules')).join('\n')).toBe('30');
    expect(second.rules_version).not.toBe(first.rules_version);

    // A broken file (negative multiplier) is rejected; SIGHUP forces the re-read; the rules in force stay.
    writeFileSync(file, tripled.replace('multiplier: 3', 'multiplier: -3'));
    engine.proc.kill('SIGHUP');
    await waitFor(
      'the rejection logged',
      async () => engine!.logs.some((l) => l.includes('rules file rejected') && l.includes('multiplier')) || undefined,
      20_000,
    );
    expect(await (await fetch(metricsUrl)).text()).toMatch(/loyalty_rules_reload_failures_total [1-9]/);
    await produceMessages(brokers, topic, [purchase('ann', 'p3', 10)]);
    const third = await waitFor('p3 in the ledger', () => ledger('p3'), 30_000);
    expect(third.points).toBe('30');
    expect(third.rules_version).toBe(second.rules_version);
    expect(engine.proc.exitCode).toBeNull();
  });
});
