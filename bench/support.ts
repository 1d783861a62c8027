import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT_DIR } from '../tools/stack/paths.js';

export const now = (): number => performance.now();

/** A live one-line progress indicator on stderr (so results on stdout stay clean). */
export function progress(label: string): { update: (text: string) => void; done: (text: string) => void } {
  return {
    update: (text) => process.stderr.write(`\r[bench] ${label}: ${text}`.padEnd(100)),
    done: (text) => process.stderr.write(`\r[bench] ${label}: ${text}`.padEnd(100) + '\n'),
  };
}

/**
 * Compiles the engine (`npm run build`) so the benchmarks run what `npm start` runs: plain
 * JavaScript, not the tsx loader (which costs every thread start-up time and memory).
 */
export function buildEngine(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT_DIR, stdio: 'inherit' });
}

export function startEngineChild(
  env: Record<string, string>,
  nodeArgs: string[] = [],
): { proc: ChildProcess; exited: Promise<number | null> } {
  // ENGINE_NODE_ARGS adds node options to every engine a benchmark starts (nodeArgs to one).
  const extra = [...(process.env.ENGINE_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''), ...nodeArgs];
  const proc = spawn(process.execPath, [...extra, '--enable-source-maps', path.join(ROOT_DIR, 'dist/src/main.js')], {
    cwd: ROOT_DIR,
    env: { ...process.env, HTTP_PORT: '0', LOG_LEVEL: 'warn', ...env },
    // The engine's log lines (stdout) were never read by the benchmarks; crashes still show on stderr.
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, exited };
}

export function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(width[i]!)).join(' | ')} |`;
  return [
    line(cols),
    `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map((r) => line(cols.map((c) => String(r[c])))),
  ].join('\n');
}
