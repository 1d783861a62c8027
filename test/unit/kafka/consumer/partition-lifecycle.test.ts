import { describe, expect, it } from 'vitest';
import { FlushPolicy } from '../../../../src/kafka/consumer/flush-policy.js';
import { IllegalTransitionError, PartitionLifecycle } from '../../../../src/kafka/consumer/partition-lifecycle.js';

describe('PartitionLifecycle', () => {
  it('allows the moves of a partition’s life', () => {
    const l = new PartitionLifecycle(3);
    for (const p of ['running', 'fenced', 'running', 'revoking', 'closed'] as const) l.to(p);
    expect(l.phase).toBe('closed');
  });

  it.each([
    ['assigning', 'fenced'],
    ['running', 'assigning'],
    ['revoking', 'running'],
    ['closed', 'running'],
  ] as const)('refuses %s -> %s loudly', (from, to) => {
    const l = new PartitionLifecycle(1);
    const path: Record<string, string[]> = {
      assigning: [],
      running: ['running'],
      revoking: ['revoking'],
      closed: ['revoking', 'closed'],
    };
    for (const p of path[from]!) l.to(p as 'running');
    expect(() => l.to(to)).toThrow(IllegalTransitionError);
    expect(l.phase).toBe(from);
  });
});

describe('FlushPolicy', () => {
  const p = new FlushPolicy(100, 50);
  it('flushes at the count or at the age of the oldest pending event, never with nothing pending', () => {
    expect(p.due(100, 1000, 1000)).toBe(true);
    expect(p.due(99, 1000, 1049)).toBe(false);
    expect(p.due(1, 1000, 1050)).toBe(true);
    expect(p.due(0, 1000, 9999)).toBe(false);
    expect(p.due(5, 0, 9999)).toBe(false);
  });
});
