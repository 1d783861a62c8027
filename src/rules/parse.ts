import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { RulesConfigError, type RulesIssue } from './errors.js';
import { rulesSchema, type RulesConfig } from './schema.js';
import { errorText } from '../errors.js';

type PathStep = PropertyKey;

/** ['rules', 2, 'multiplier'] -> 'rules[2].multiplier'. */
export function formatPath(path: readonly PathStep[]): string {
  let out = '';
  for (const step of path) {
    if (typeof step === 'number') out += `[${step}]`;
    else out += out === '' ? String(step) : `.${String(step)}`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * The line of the deepest YAML node on `path` (the key's line for a map entry), so an error
 * about a missing or bad child still points near it.
 */
function lineOf(doc: Document, lines: LineCounter, path: readonly PathStep[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = isScalar(node) || isMap(node) || isSeq(node) ? node.range?.[0] : undefined;
  for (const step of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(step));
      if (pair === undefined) break;
      if (isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof step === 'number') {
      const item: unknown = node.items[step];
      if (item === undefined) break;
      node = item;
      if ((isScalar(item) || isMap(item) || isSeq(item)) && item.range) offset = item.range[0];
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

function zodIssues(error: z.ZodError, doc: Document, lines: LineCounter): RulesIssue[] {
  const out: RulesIssue[] = [];
  for (const issue of error.issues) {
    // One issue per unknown key, so each names its own path and line.
    const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
    for (const path of paths) {
      const message = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
      const line = lineOf(doc, lines, path);
      out.push({ path: formatPath(path), message, ...(line !== undefined && { line }) });
    }
  }
  return out;
}

/** YAML text -> validated config, or a RulesConfigError naming every problem. */
export function parseRulesConfig(text: string, source?: string): RulesConfig {
  const lines = new LineCounter();
  // The core schema (YAML 1.2) keeps 2026-11-27 a string and "no"/"on" strings, not dates and booleans.
  const doc = parseDocument(text, { lineCounter: lines, schema: 'core', uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e): RulesIssue => {
      const line = e.linePos?.[0].line;
      // The first line says what is wrong; the rest is a source excerpt, and the line is reported separately.
      const message = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
      return { path: '(yaml)', message, ...(line !== undefined && { line }) };
    });
    throw new RulesConfigError(issues, source);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new RulesConfigError([{ path: '(yaml)', message: errorText(e) }], source);
  }
  if (raw === null || raw === undefined) {
    throw new RulesConfigError(
      [{ path: '(root)', message: 'the rules file is empty: it needs at least "version: 1"' }],
      source,
    );
  }
  const parsed = rulesSchema.safeParse(raw);
  if (!parsed.success) throw new RulesConfigError(zodIssues(parsed.error, doc, lines), source);
  return parsed.data;
}
