import { describe, expect, it } from 'vitest';
import { loadEngineConfig } from '../../../src/config/env.js';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' };

describe('CLOCK_TICK_MS', () => {
  it('defaults to a minute; 0 turns ticks off', () => {
    expect(loadEngineConfig(base).CLOCK_TICK_MS).toBe(60_000);
    expect(loadEngineConfig({ ...base, CLOCK_TICK_MS: '0' }).CLOCK_TICK_MS).toBe(0);
    expect(loadEngineConfig({ ...base, CLOCK_TICK_MS: '250' }).CLOCK_TICK_MS).toBe(250);
  });

  it.each(['-1', 'soon', '1.5', '50', '86400001'])('refuses %s, naming the variable', (v) => {
    expect(() => loadEngineConfig({ ...base, CLOCK_TICK_MS: v })).toThrow(/CLOCK_TICK_MS/);
  });
});
