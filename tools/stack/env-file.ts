import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { STACK_ENV_FILE } from './paths.js';

/** Parses KEY=value lines; blank lines and # comments are ignored. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

export function readStackEnv(file = STACK_ENV_FILE): Record<string, string> {
  try {
    return parseEnvFile(readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
}

export function writeStackEnv(values: Record<string, string>, file = STACK_ENV_FILE): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const body = Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  writeFileSync(file, `# written by "npm run stack"; environment variables override these\n${body}\n`);
}

/**
 * Fills process.env from .stack/env without overriding what the caller set,
 * so every command defaults to the local stack and the environment wins.
 */
export function applyStackEnv(env: NodeJS.ProcessEnv = process.env, file = STACK_ENV_FILE): void {
  for (const [k, v] of Object.entries(readStackEnv(file))) {
    if (env[k] === undefined || env[k] === '') env[k] = v;
  }
}
