import { describe, expect, it } from 'vitest';
import { loadEngineConfig } from '../../../src/config/env.js';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' };
const DAY = 86_400_000;

describe('ledger settings', () => {
  it('default to 90 days of retention, a 7-day future limit and no archive', () => {
    const c = loadEngineConfig(base);
    expect(c.LEDGER_RETENTION).toBe(90 * DAY);
    expect(c.LEDGER_FUTURE_LIMIT).toBe(7 * DAY);
    expect(c.LEDGER_ARCHIVE_DIR).toBeUndefined();
  });
  it('read durations as the rules file writes them', () => {
    const c = loadEngineConfig({
      ...base,
      LEDGER_RETENTION: '400d',
      LEDGER_FUTURE_LIMIT: '36h',
      LEDGER_ARCHIVE_DIR: '/var/archive',
    });
    expect(c.LEDGER_RETENTION).toBe(400 * DAY);
    expect(c.LEDGER_FUTURE_LIMIT).toBe(36 * 3_600_000);
    expect(c.LEDGER_ARCHIVE_DIR).toBe('/var/archive');
  });
  it('name a bad duration', () => {
    expect(() => loadEngineConfig({ ...base, LEDGER_RETENTION: 'ninety days' })).toThrow(
      /LEDGER_RETENTION: "ninety days" is not a duration/,
    );
  });
});
