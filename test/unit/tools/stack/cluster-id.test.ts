import { describe, expect, it } from 'vitest';
import { newClusterId } from '../../../../tools/stack/kafka-broker.js';

describe('KRaft cluster id', () => {
  it('is 22 URL-safe base64 characters and never starts with "-" (the storage tool would take it for an option)', () => {
    // One id in 64 would start with '-' without the guard: 5,000 draws miss that with probability ~1e-34.
    for (let i = 0; i < 5000; i++) {
      const id = newClusterId();
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    }
  });
});
