import { describe, expect, it } from 'vitest';
import { readEngine } from '../../../src/metrics/engine-reading.js';
import { createMetrics } from '../../../src/metrics/registry.js';

describe('readEngine', () => {
  it('reads event outcomes (all types summed), lag per partition, flush buckets, dead letters and the rules version from the registry', async () => {
    const m = createMetrics();
    m.events.inc({ type: 'purchase', outcome: 'applied' }, 5);
    m.events.inc({ type: 'redeem', outcome: 'applied' }, 2);
    m.events.inc({ type: 'redeem', outcome: 'rejected' }, 1);
    m.consumerLag.set({ topic: 't', partition: '3' }, 40);
    m.flushDuration.observe(0.003);
    m.flushDuration.observe(20);
    m.deadLetters.inc({ reason: 'malformed_json' }, 4);
    m.rulesInfo.set({ version: 'v-old' }, 1);
    m.rulesInfo.reset();
    m.rulesInfo.set({ version: 'v-new' }, 1);

    const r = await readEngine(m, 123);
    expect(r.atMs).toBe(123);
    expect(r.eventsByOutcome).toEqual({ applied: 7, rejected: 1 });
    expect(r.lagByPartition).toEqual({ '3': 40 });
    expect(r.flushBuckets.find((b) => b.le === 0.0025)?.count).toBe(0);
    expect(r.flushBuckets.find((b) => b.le === 0.005)?.count).toBe(1);
    expect(r.flushBuckets.find((b) => b.le === 10)?.count).toBe(1);
    expect(r.flushBuckets.find((b) => b.le === Infinity)?.count).toBe(2);
    expect(r.deadLettersByReason).toEqual({ malformed_json: 4 });
    expect(r.rulesVersion).toBe('v-new');
  });
});
