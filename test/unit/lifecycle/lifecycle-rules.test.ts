import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultRuleSet, parseRules, RulesConfigError, type RulesIssue } from '../../../src/rules/index.js';

const DAY = 86_400_000;

function issuesOf(text: string): RulesIssue[] {
  try {
    parseRules(text);
  } catch (e) {
    if (e instanceof RulesConfigError) return e.issues;
    throw e;
  }
  throw new Error('expected a RulesConfigError');
}

/** Asserts exactly one issue, at `path` on `line`, whose message matches. */
function expectOne(text: string, path: string, line: number, message: RegExp): void {
  const issues = issuesOf(text);
  expect(issues).toHaveLength(1);
  expect(issues[0]).toMatchObject({ path, line });
  expect(issues[0]!.message).toMatch(message);
}

describe('the lifecycle block of the rules file', () => {
  it('is off without the block (and in the built-in rules)', () => {
    expect(parseRules('version: 1\n').lifecycle).toBeNull();
    expect(parseRules('version: 1\nlifecycle: null\n').lifecycle).toBeNull();
    expect(defaultRuleSet().lifecycle).toBeNull();
  });

  it('reads pending and expires_after in milliseconds', () => {
    expect(parseRules('version: 1\nlifecycle:\n  pending: 14d\n  expires_after: 365d\n').lifecycle).toEqual({
      pendingMs: 14 * DAY,
      expiresAfterMs: 365 * DAY,
    });
  });

  it('pending may be 0 (written 0, "0" or 0d) or left out; expires_after left out means never', () => {
    for (const p of ['0', '"0"', '0d'])
      expect(parseRules(`version: 1\nlifecycle:\n  pending: ${p}\n`).lifecycle).toEqual({
        pendingMs: 0,
        expiresAfterMs: null,
      });
    expect(parseRules('version: 1\nlifecycle: { expires_after: 30d }\n').lifecycle).toEqual({
      pendingMs: 0,
      expiresAfterMs: 30 * DAY,
    });
    expect(parseRules('version: 1\nlifecycle: {}\n').lifecycle).toEqual({ pendingMs: 0, expiresAfterMs: null });
  });

  it('names the field of a bad duration', () => {
    expectOne('version: 1\nlifecycle:\n  pending: two weeks\n', 'lifecycle.pending', 3, /not 0 or a duration/);
    expectOne('version: 1\nlifecycle:\n  pending: 5\n', 'lifecycle.pending', 3, /must be 0 or a duration/);
    expectOne('version: 1\nlifecycle:\n  expires_after: 0d\n', 'lifecycle.expires_after', 3, /not a duration/);
  });

  it('rejects expires_after not longer than pending, naming expires_after', () => {
    expectOne(
      'version: 1\nlifecycle:\n  pending: 14d\n  expires_after: 2w\n',
      'lifecycle.expires_after',
      4,
      /^must be longer than pending$/,
    );
    expect(
      parseRules('version: 1\nlifecycle:\n  pending: 14d\n  expires_after: 14d1ms\n').lifecycle?.expiresAfterMs,
    ).toBe(14 * DAY + 1);
  });

  it('rejects unknown keys in the block', () => {
    expectOne('version: 1\nlifecycle:\n  expire_after: 30d\n', 'lifecycle.expire_after', 3, /^unknown key$/);
  });

  it('the example in config/rules.schema.md is valid', () => {
    const doc = readFileSync(new URL('../../../config/rules.schema.md', import.meta.url), 'utf8');
    const example = /## Points lifecycle[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    expect(parseRules(`version: 1\n${example!}`).lifecycle).toEqual({ pendingMs: 14 * DAY, expiresAfterMs: 365 * DAY });
  });
});
