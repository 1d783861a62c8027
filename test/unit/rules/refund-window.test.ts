import { describe, expect, it } from 'vitest';
import { RulesConfigError, parseRules } from '../../../src/rules/index.js';

describe('refund_window', () => {
  it('defaults to 90 days', () => {
    expect(parseRules('version: 1\n').refundWindowMs).toBe(90 * 86_400_000);
  });
  it('reads a duration', () => {
    expect(parseRules('version: 1\nrefund_window: 30d\n').refundWindowMs).toBe(30 * 86_400_000);
  });
  it('rejects what is not a duration, naming the key', () => {
    expect(() => parseRules('version: 1\nrefund_window: a while\n')).toThrow(RulesConfigError);
    expect(() => parseRules('version: 1\nrefund_window: a while\n')).toThrow(/refund_window/);
  });
});
