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
});
