import { spawnSync } from 'node:child_process';

/** Runs a system command (ip, iptables) and throws with its stderr when it fails. */
export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Like run, but a failure is only reported (for cleanup, where the thing may already be gone). */
export function tryRun(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 15_000 }).status === 0;
}

/** Inside namespace `ns`. */
export const inNamespace = (ns: string, cmd: string, args: string[]): string =>
  run('ip', ['netns', 'exec', ns, cmd, ...args]);

/** Why namespaces cannot be made here, or null when they can (root, `ip` and `iptables` present). */
export function namespacesUnavailable(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root (network namespaces need root)';
  for (const [cmd, arg] of [
    ['ip', '-V'],
    ['iptables', '-V'],
  ] as const) {
    if (spawnSync(cmd, [arg], { stdio: 'ignore' }).status !== 0) return `${cmd} is not installed`;
  }
  return null;
}
