import { describe, expect, it } from 'vitest';
import { pgHashText, pgHashTextPair } from '../../../src/store/pg-hashtext.js';

describe('pgHashText', () => {
  // From PostgreSQL 15: SELECT s, hashtext(s). Lengths cover every tail case, a whole 12-byte block, and multi-byte UTF-8.
  it.each([
    ['', -1477818771],
    ['a', 1075015857],
    ['user-1/evt-1', 528172079],
    ['user-123456/order-2026-11-25-000001', -1734392856],
    ['ünïcødé/€✓', -1342743445],
    ['exactly12byt', 804910449],
  ])('hashes %j as Postgres does', (s, h) => {
    expect(pgHashText(s)).toBe(h);
  });

  it('handles strings longer than its scratch buffer', () => {
    const long = 'x'.repeat(5000);
    expect(pgHashText(long)).toBe(pgHashText('x'.repeat(4999) + 'x'));
    expect(pgHashText(long)).not.toBe(pgHashText('x'.repeat(4999)));
  });

  it('hashes a (user, id) pair as the text user/id', () => {
    expect(pgHashTextPair('user-1', 'evt-1')).toBe(528172079);
    expect(pgHashTextPair('ünïcødé', '€✓')).toBe(-1342743445);
    expect(pgHashTextPair('u'.repeat(700), 'e'.repeat(900))).toBe(pgHashText(`${'u'.repeat(700)}/${'e'.repeat(900)}`));
  });
});
