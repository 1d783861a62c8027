import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compileRules, tierIndex, type CompiledRules } from './compile.js';
import { DEFAULT_RULES } from './defaults.js';
import { makeEvaluate } from './evaluate.js';
import { parseRulesConfig } from './parse.js';
import { rulesSchema, type RulesConfig } from './schema.js';
import type { EvaluateFn } from './types.js';

export { RulesConfigError, type RulesIssue } from './errors.js';

/** A validated, compiled rules file: the one snapshot of the rules that the actors and the API use. Immutable. */
export interface RuleSet
  // The settings the engine reads besides evaluate: documented once, on CompiledRules.
  extends Pick<CompiledRules, 'idempotencyWindowMs' | 'refundWindowMs' | 'maxAmount' | 'lifecycle'> {
  /** Content hash recorded on every ledger row: 12 hex of sha256 of the file text ('default-…' for the built-in rules). */
  readonly version: string;
  /** The file's text, which the main thread hands to actor threads so each compiles the same version; null for the built-in rules. */
  readonly text: string | null;
  /** The tier name `lifetimeEarned` reaches under these rules (the evaluator's tier); null below the first tier or with no tiers. */
  readonly tierOf: (lifetimeEarned: number) => string | null;
  /** Pure; compiled once per rules file. */
  readonly evaluate: EvaluateFn;
}

const hash12 = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

function build(config: RulesConfig, version: string, text: string | null): RuleSet {
  const compiled = compileRules(config);
  return Object.freeze({
    version,
    text,
    tierOf: (lifetimeEarned: number) => compiled.tierNames[tierIndex(compiled, lifetimeEarned)] ?? null,
    evaluate: makeEvaluate(compiled),
    idempotencyWindowMs: compiled.idempotencyWindowMs,
    refundWindowMs: compiled.refundWindowMs,
    maxAmount: compiled.maxAmount,
    lifecycle: compiled.lifecycle,
  });
}

/** Parses and validates YAML rules; throws RulesConfigError listing every bad path (with its line). */
export function parseRules(text: string, source?: string): RuleSet {
  return build(parseRulesConfig(text, source), hash12(text), text);
}

/** Reads a rules file and parses it; errors name the file. */
export function loadRulesFile(path: string): RuleSet {
  return parseRules(readFileSync(path, 'utf8'), path);
}

let builtIn: RuleSet | undefined;

/** The built-in rules, identical in behaviour to the shipped config/rules.yaml. */
export function defaultRuleSet(): RuleSet {
  builtIn ??= build(rulesSchema.parse(DEFAULT_RULES), `default-${hash12(JSON.stringify(DEFAULT_RULES))}`, null);
  return builtIn;
}
