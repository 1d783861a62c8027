import { describe, expect, it } from 'vitest';
import { BatchLinger } from '../../../../src/kafka/consumer/batch-linger.js';

describe('BatchLinger', () => {
  const l = new BatchLinger(20);
  it('holds a batch that is not full until its oldest message has waited the linger', () => {
    expect(l.ready(3, false, 1000, 1019)).toBe(false);
    expect(l.ready(3, false, 1000, 1020)).toBe(true);
  });
  it('sends a full batch at once, and never an empty one', () => {
    expect(l.ready(5, true, 1000, 1000)).toBe(true);
    expect(l.ready(0, false, 1000, 5000)).toBe(false);
  });
  it('with no linger sends whatever is queued', () => {
    expect(new BatchLinger(0).ready(1, false, 1000, 1000)).toBe(true);
  });
  it('rests the fetch loop after a short fetch only, and never longer than 10 ms', () => {
    expect(l.restAfterFetch(10, 2000)).toBe(10);
    expect(l.restAfterFetch(500, 2000)).toBe(0);
    expect(new BatchLinger(6).restAfterFetch(10, 2000)).toBe(3);
    expect(new BatchLinger(0).restAfterFetch(10, 2000)).toBe(0);
  });
  it('looks at queued batches often enough for the linger and the flush age', () => {
    expect(l.checkEveryMs(100)).toBe(10);
    expect(new BatchLinger(0).checkEveryMs(100)).toBe(50);
    expect(new BatchLinger(200).checkEveryMs(100)).toBe(50);
    expect(new BatchLinger(2).checkEveryMs(100)).toBe(5);
  });
});
