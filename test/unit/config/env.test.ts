import { describe, expect, it } from 'vitest';
import { loadEngineConfig } from '../../../src/config/env.js';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' };

describe('engine configuration', () => {
  it('fills defaults', () => {
    const c = loadEngineConfig(base);
    expect(c.KAFKA_TOPIC).toBe('loyalty-events');
    expect(c.KAFKA_DLQ_TOPIC).toBe('loyalty-events.dlq');
    expect(c.KAFKA_TOPIC_PARTITIONS).toBe(12);
    expect(c.HTTP_PORT).toBe(8080);
  });
  it('names every bad variable', () => {
    expect(() =>
      loadEngineConfig({ ...base, HTTP_PORT: 'eighty', FLUSH_MAX_EVENTS: '0', DATABASE_URL: 'mysql://x' }),
    ).toThrow(/HTTP_PORT.*FLUSH_MAX_EVENTS.*DATABASE_URL|DATABASE_URL.*HTTP_PORT/s);
    expect(() => loadEngineConfig({ DATABASE_URL: base.DATABASE_URL })).toThrow(/KAFKA_BROKERS/);
    expect(() => loadEngineConfig({ ...base, LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });
  it('takes a static member id only when given, and names a bad one', () => {
    expect(loadEngineConfig(base).KAFKA_GROUP_INSTANCE_ID).toBeUndefined();
    expect(loadEngineConfig({ ...base, KAFKA_GROUP_INSTANCE_ID: 'loyalty-0' }).KAFKA_GROUP_INSTANCE_ID).toBe(
      'loyalty-0',
    );
    expect(() => loadEngineConfig({ ...base, KAFKA_GROUP_INSTANCE_ID: 'pod 0' })).toThrow(/KAFKA_GROUP_INSTANCE_ID/);
  });
});

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

describe('ACTOR_LINGER_MS', () => {
  it('defaults to 20 ms, or a fifth of a flush age under 100 ms', () => {
    expect(loadEngineConfig(base).ACTOR_LINGER_MS).toBe(20);
    expect(loadEngineConfig({ ...base, FLUSH_MAX_AGE_MS: '1000' }).ACTOR_LINGER_MS).toBe(20);
    // A FLUSH_MAX_AGE_MS of 10 was valid before the linger existed: it still starts, with a 2 ms linger.
    expect(loadEngineConfig({ ...base, FLUSH_MAX_AGE_MS: '10' }).ACTOR_LINGER_MS).toBe(2);
    expect(loadEngineConfig({ ...base, FLUSH_MAX_AGE_MS: '1' }).ACTOR_LINGER_MS).toBe(0);
  });

  it('takes a set value under the flush age, and 0 with any', () => {
    expect(loadEngineConfig({ ...base, ACTOR_LINGER_MS: '50' }).ACTOR_LINGER_MS).toBe(50);
    expect(loadEngineConfig({ ...base, ACTOR_LINGER_MS: '0', FLUSH_MAX_AGE_MS: '1' }).ACTOR_LINGER_MS).toBe(0);
  });

  it.each([
    ['100', '100'],
    ['500', '100'],
  ])('refuses %s ms with a flush age of %s ms, naming both', (linger, age) => {
    expect(() => loadEngineConfig({ ...base, ACTOR_LINGER_MS: linger, FLUSH_MAX_AGE_MS: age })).toThrow(
      /ACTOR_LINGER_MS: must be 0 or less than FLUSH_MAX_AGE_MS/,
    );
  });
});
