import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../src/rules/duration.js';
import { loadRulesFile, parseRules, RulesConfigError, type RulesIssue } from '../../../src/rules/index.js';

function issuesOf(text: string, source?: string): { issues: RulesIssue[]; message: string } {
  try {
    parseRules(text, source);
  } catch (e) {
    if (e instanceof RulesConfigError) return { issues: e.issues, message: e.message };
    throw e;
  }
  throw new Error('expected a RulesConfigError');
}

/** Asserts exactly one issue, at `path` on `line`, whose message matches. */
function expectOne(text: string, path: string, line: number | undefined, message: RegExp): void {
  const { issues, message: all } = issuesOf(text);
  expect(issues).toHaveLength(1);
  expect(issues[0]).toMatchObject({ path, ...(line !== undefined && { line }) });
  expect(issues[0]!.message).toMatch(message);
  expect(all).toContain(`${path}: `);
}

describe('validation: each bad input names its path and line', () => {
  it('unknown key at the root', () => {
    expectOne('version: 1\nallow_negatve: true\n', 'allow_negatve', 2, /unknown key/);
  });
  it('unknown key in earn', () => {
    expectOne(
      'version: 1\nearn:\n  points_per_unit: 2\n  point_per_unit: 2\n',
      'earn.point_per_unit',
      4,
      /unknown key/,
    );
  });
  it('unknown key in a rule and in a when', () => {
    const { issues } = issuesOf(
      'version: 1\nrules:\n  - multiplier: 2\n    when:\n      weekday: [sat]\n    priority: 1\n',
    );
    expect(issues).toEqual([
      { path: 'rules[0].when.weekday', message: 'unknown key', line: 5 },
      { path: 'rules[0].priority', message: 'unknown key', line: 6 },
    ]);
  });
  it('wrong type', () => {
    expectOne('version: 1\nrules:\n  - multiplier: two\n', 'rules[0].multiplier', 3, /expected number/);
  });
  it('negative multiplier', () => {
    const text = `version: 1
rules:
  - { name: a, multiplier: 1 }
  - { name: b, multiplier: 2 }
  - name: c
    when: { category: x }
    multiplier: -1
`;
    expectOne(text, 'rules[2].multiplier', 7, /must be >= 0/);
    expect(issuesOf(text, 'promo.yaml').message).toContain('promo.yaml:7: rules[2].multiplier: must be >= 0');
  });
  it('negative tier multiplier and points per unit', () => {
    const { issues } = issuesOf(
      'version: 1\nearn: { points_per_unit: -1 }\ntiers: [{ name: t, min_lifetime_points: 0, multiplier: -2 }]\n',
    );
    expect(issues.map((i) => i.path)).toEqual(['earn.points_per_unit', 'tiers[0].multiplier']);
  });
  it('overlapping date ranges among rules that match on dates alone', () => {
    const text = `version: 1
rules:
  - name: black-friday
    when: { date_range: { from: 2026-11-27, to: 2026-11-30 } }
    multiplier: 3
  - name: cyber-monday
    when: { date_range: { from: 2026-11-30, to: 2026-12-01 } }
    multiplier: 2
`;
    expectOne(text, 'rules[1].when.date_range', 7, /overlaps rules\[0\] \("black-friday"\)/);
  });
  it('touching but not overlapping ranges, or ranges with another condition, are fine', () => {
    expect(() =>
      parseRules(`version: 1
rules:
  - { when: { date_range: { from: 2026-11-27, to: 2026-11-29 } }, multiplier: 3 }
  - { when: { date_range: { from: 2026-11-30, to: 2026-12-01 } }, multiplier: 2 }
  - { when: { date_range: { from: 2026-11-27, to: 2026-12-01 }, category: toys }, multiplier: 2 }
`),
    ).not.toThrow();
  });
  it('a range that ends before it starts, or an impossible date', () => {
    const { issues } = issuesOf(`version: 1
rules:
  - { when: { date_range: { from: 2026-12-01, to: 2026-11-01 } }, multiplier: 3 }
  - { when: { date_range: { from: 2026-02-30, to: 2026-03-01 }, sku: A }, multiplier: 3 }
`);
    expect(issues).toEqual([
      { path: 'rules[0].when.date_range.to', message: expect.stringMatching(/before from/), line: 3 },
      { path: 'rules[1].when.date_range.from', message: expect.stringMatching(/calendar date/), line: 4 },
    ]);
  });
  it('tiers out of order', () => {
    const text = `version: 1
tiers:
  - { name: base, min_lifetime_points: 0, multiplier: 1 }
  - { name: gold, min_lifetime_points: 5000, multiplier: 2 }
  - { name: silver, min_lifetime_points: 1000, multiplier: 1.5 }
`;
    expectOne(text, 'tiers[2].min_lifetime_points', 5, /ascending/);
  });
  it('equal tier thresholds', () => {
    expectOne(
      'version: 1\ntiers:\n  - { name: a, min_lifetime_points: 0, multiplier: 1 }\n  - { name: b, min_lifetime_points: 0, multiplier: 2 }\n',
      'tiers[1].min_lifetime_points',
      4,
      /ascending/,
    );
  });
  it('bad rounding name', () => {
    expectOne('version: 1\nearn:\n  rounding: bankers\n', 'earn.rounding', 3, /floor, round, ceil/);
    expectOne('version: 1\nearn:\n  base_rounding: up\n', 'earn.base_rounding', 3, /none/);
  });
  it('bad day name', () => {
    expectOne(
      'version: 1\nrules:\n  - when: { days_of_week: [sat, saturday] }\n    multiplier: 2\n',
      'rules[0].when.days_of_week[1]',
      3,
      /sun, mon/,
    );
  });
  it('bad duration', () => {
    expectOne('version: 1\nidempotency_window: 7 days\n', 'idempotency_window', 2, /duration/);
  });
  it('fractional cap', () => {
    expectOne('version: 1\nearn: { cap_per_event: 10.5 }\n', 'earn.cap_per_event', 2, /whole number/);
  });
  it('duplicate rule names', () => {
    expectOne(
      'version: 1\nrules:\n  - { name: x, multiplier: 1 }\n  - { name: x, multiplier: 2 }\n',
      'rules[1].name',
      4,
      /rules\[0\]/,
    );
  });
  it('version missing or wrong', () => {
    expectOne('earn: {}\n', 'version', 1, /must be 1/);
    expectOne('version: 2\n', 'version', 1, /must be 1/);
  });
  it('YAML syntax error, with its line', () => {
    const { issues } = issuesOf('version: 1\nrules:\n  - multiplier: 2\n   when: {\n');
    expect(issues[0]).toMatchObject({ path: '(yaml)' });
    expect(issues[0]!.line).toBeGreaterThanOrEqual(3);
  });
  it('duplicate keys', () => {
    expectOne('version: 1\nallow_negative: true\nallow_negative: false\n', '(yaml)', 3, /unique/);
  });
  it('empty file, and a file that is not a mapping', () => {
    expectOne('', '(root)', undefined, /empty/);
    expectOne('- 1\n', '(root)', 1, /expected object/);
  });
  it('names every bad path in one error', () => {
    const { issues, message } = issuesOf(`version: 1
earn:
  rounding: upward
rules:
  - { multiplier: -1 }
  - { when: { days_of_week: [funday] }, multiplier: 1 }
tiers:
  - { name: b, min_lifetime_points: 10, multiplier: 1 }
  - { name: a, min_lifetime_points: 5, multiplier: 1 }
idempotency_window: soon
`);
    const paths = [
      'earn.rounding',
      'rules[0].multiplier',
      'rules[1].when.days_of_week[0]',
      'tiers[1].min_lifetime_points',
      'idempotency_window',
    ];
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      [paths[0], 3],
      [paths[1], 5],
      [paths[2], 6],
      [paths[3], 9],
      [paths[4], 10],
    ]);
    for (const p of paths) expect(message).toContain(`${p}: `);
  });
});

describe('accepted values', () => {
  it('fills defaults', () => {
    const r = parseRules('version: 1\n');
    expect(r.idempotencyWindowMs).toBe(7 * 86_400_000);
    expect(r.maxAmount).toBe(1_000_000);
    expect(r.version).toMatch(/^[0-9a-f]{12}$/);
  });
  it('reads idempotency_window and max_amount; an empty rules/tiers key is an empty list', () => {
    const r = parseRules('version: 1\nrules:\ntiers:\nidempotency_window: 36h\nmax_amount: 5000\n');
    expect(r.idempotencyWindowMs).toBe(36 * 3_600_000);
    expect(r.maxAmount).toBe(5000);
  });
  it('version is a content hash of the text', () => {
    expect(parseRules('version: 1\n').version).toBe(parseRules('version: 1\n').version);
    expect(parseRules('version: 1\n').version).not.toBe(parseRules('version: 1\n# changed\n').version);
  });
  it('loadRulesFile reads a file and names it in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-'));
    const good = join(dir, 'good.yaml');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(good, 'version: 1\nmax_amount: 10\n');
    writeFileSync(bad, 'version: 1\nmax_amount: -10\n');
    expect(loadRulesFile(good).maxAmount).toBe(10);
    expect(() => loadRulesFile(bad)).toThrow(`${bad}:2: max_amount: must be > 0`);
  });
});

describe('parseDuration', () => {
  it.each([
    ['7d', 604_800_000],
    ['36h', 129_600_000],
    ['1d12h', 129_600_000],
    ['90s', 90_000],
    ['15m', 900_000],
    ['500ms', 500],
    ['2w', 1_209_600_000],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '7', 'd', '7 d', '-1d', '1.5d', '0d', '7days'])('rejects %j', (text) =>
    expect(parseDuration(text)).toBeNull(),
  );
});
