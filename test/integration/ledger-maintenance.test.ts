import pino from 'pino';
import client from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, listLedgerPartitions, utcDay } from '../../src/store/ledger-partitions.js';
import { startLedgerMaintenance } from '../../src/store/ledger-maintenance.js';
import { freshDatabase, migratedDatabase } from './support/stack.js';

describe('ledger maintenance at engine start', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await migratedDatabase();
  });
  afterAll(async () => db.drop());

  it('creates partitions from yesterday to three days ahead, then drops the expired ones and counts them', async () => {
    const today = utcDay(Date.now());
    const old = new Date((today - 200) * DAY_MS).toISOString().slice(0, 10);
    await db.pool.query('SELECT ledger_ensure_partitions($1::date, $1::date)', [old]);
    const registry = new client.Registry();
    const m = startLedgerMaintenance(db.pool, { retentionMs: 90 * DAY_MS }, pino({ level: 'silent' }), registry);
    await m.ready;
    await m.firstRetention;
    expect((await listLedgerPartitions(db.pool)).map((p) => p.day - today)).toEqual([-1, 0, 1, 2, 3]);
    expect(await registry.getSingleMetricAsString('loyalty_ledger_partitions_dropped_total')).toMatch(/ 1$/m);
    m.stop();
  });
});
