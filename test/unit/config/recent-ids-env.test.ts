import { describe, expect, it } from 'vitest';
import { loadEngineConfig } from '../../../src/config/env.js';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' };

describe('RECENT_IDS_BUSY_MB', () => {
  it('defaults to 64 MiB per partition actor; 0 keeps no busy user in memory', () => {
    expect(loadEngineConfig(base).RECENT_IDS_BUSY_MB).toBe(64);
    expect(loadEngineConfig({ ...base, RECENT_IDS_BUSY_MB: '0' }).RECENT_IDS_BUSY_MB).toBe(0);
    expect(loadEngineConfig({ ...base, RECENT_IDS_BUSY_MB: '512' }).RECENT_IDS_BUSY_MB).toBe(512);
  });

  it.each(['-1', 'lots', '1.5', '65537'])('refuses %s, naming the variable', (v) => {
    expect(() => loadEngineConfig({ ...base, RECENT_IDS_BUSY_MB: v })).toThrow(/RECENT_IDS_BUSY_MB/);
  });
});
