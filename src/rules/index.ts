import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compileRules } from './compile.js';
import { DEFAULT_RULES } from './defaults.js';
import { makeEvaluate } from './evaluate.js';
import { parseRulesConfig } from './parse.js';
import { rulesSchema, type RulesConfig } from './schema.js';
import type { EvaluateFn } from './types.js';

export { RulesConfigError, type RulesIssue } from './errors.js';

/** A validated, compiled rules file. Immutable; safe to share between actors. */
export interface RuleSet {
  /** Content hash recorded on every ledger row: 12 hex of sha256 of the file text ('default-…' for the built-in rules). */
  readonly version: string;
  /** Pure; compiled once per rules file. */
  readonly evaluate: EvaluateFn;
  readonly idempotencyWindowMs: number;
  /** The decoder rejects amounts >= this. */
  readonly maxAmount: number;
}

const hash12 = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

function build(config: RulesConfig, version: string): RuleSet {
  const compiled = compileRules(config);
  return Object.freeze({
    version,
    evaluate: makeEvaluate(compiled),
    idempotencyWindowMs: compiled.idempotencyWindowMs,
    maxAmount: compiled.maxAmount,
  });
}

/** Parses and validates YAML rules; throws RulesConfigError listing every bad path (with its line). */
export function parseRules(text: string, source?: string): RuleSet {
  return build(parseRulesConfig(text, source), hash12(text));
}

/** Reads a rules file and parses it; errors name the file. */
export function loadRulesFile(path: string): RuleSet {
  return parseRules(readFileSync(path, 'utf8'), path);
}

let builtIn: RuleSet | undefined;

/** The built-in rules, identical in behaviour to the shipped config/rules.yaml. */
export function defaultRuleSet(): RuleSet {
  builtIn ??= build(rulesSchema.parse(DEFAULT_RULES), `default-${hash12(JSON.stringify(DEFAULT_RULES))}`);
  return builtIn;
}
