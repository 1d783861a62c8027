import type pg from 'pg';
import type { Logger } from 'pino';
import client from 'prom-client';
import { ensureLedgerPartitions, utcDay } from './ledger-partitions.js';
import { dropExpiredPartitions, type RetentionSettings } from './ledger-retention.js';

/** Days of partitions kept ready ahead of today; a flush creates any other day it needs itself. */
const DAYS_AHEAD = 3;
const EVERY_MS = 3_600_000;

/**
 * The engine's ledger housekeeping, at start and hourly: partitions for yesterday to a few days
 * ahead, then retention. Every engine runs it; Postgres locks make them take turns.
 */
export function startLedgerMaintenance(
  pool: pg.Pool,
  s: RetentionSettings,
  log: Logger,
  registry: client.Registry,
): { ready: Promise<void>; firstRetention: Promise<void>; stop: () => void } {
  const dropped = new client.Counter({
    name: 'loyalty_ledger_partitions_dropped_total',
    help: 'Ledger partitions dropped by retention (archived first when LEDGER_ARCHIVE_DIR is set)',
    registers: [registry],
  });
  const failed = new client.Counter({
    name: 'loyalty_ledger_retention_failures_total',
    help: 'Ledger partitions retention could not archive or drop (kept; retried next round)',
    registers: [registry],
  });
  const ensure = async (): Promise<void> => {
    const today = utcDay(Date.now());
    const days = Array.from({ length: DAYS_AHEAD + 2 }, (_, i) => today - 1 + i);
    const created = await ensureLedgerPartitions(pool, days);
    if (created > 0) log.info({ created }, 'ledger partitions created');
  };
  const retain = async (): Promise<void> => {
    const r = await dropExpiredPartitions(pool, s);
    for (const d of r.dropped) log.info(d, 'ledger partition dropped (older than LEDGER_RETENTION)');
    // Kept, not dropped: the next round tries again. Logged at error: the ledger grows until it is fixed.
    for (const f of r.failed) log.error(f, 'ledger partition not dropped: archiving or dropping it failed');
    dropped.inc(r.dropped.length);
    failed.inc(r.failed.length);
  };
  const safely = (what: string, fn: () => Promise<void>): Promise<void> =>
    fn().catch((e: unknown) =>
      log.error({ err: e instanceof Error ? e.message : String(e) }, `ledger maintenance failed: ${what}`),
    );
  const timer = setInterval(
    () =>
      void safely('hourly round', async () => {
        await ensure();
        await retain();
      }),
    EVERY_MS,
  );
  timer.unref();
  // Start-up waits for the partitions only: retention (archiving maybe many days after an upgrade) runs behind it.
  const ready = safely('partitions at start', ensure);
  const firstRetention = ready.then(() => safely('retention at start', retain));
  return { ready, firstRetention, stop: () => clearInterval(timer) };
}
