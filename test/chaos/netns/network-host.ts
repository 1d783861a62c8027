import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT_DIR } from '../../../tools/stack/paths.js';
import { isOurs, linkOf, namespaceName, SERVICES, type Link, type Service } from './addressing.js';
import { inNamespace, run, tryRun } from './commands.js';
import type { RelayStats } from './relay.js';

/** Where the suite records the ids of the processes it started, so a crashed run's leftovers can be ended by id. */
const PID_DIR = '/tmp/lnx-chaos-pids';

export interface Ports {
  kafka: number;
  postgres: number;
}

/**
 * A test host: a network namespace with one veth link per service. The engine inside talks to
 * 127.0.0.1:<kafka port> and :<postgres port> as everywhere else; a relay in the namespace carries
 * those connections over the service's link to a relay in the root namespace, which reaches the
 * real broker and Postgres on 127.0.0.1 (the broker advertises 127.0.0.1, so the client in the
 * namespace must find it there too). Faults act on one link: iptables inside the namespace drops
 * the link's packets (a cut, loss), and the namespace relay delays bytes toward Postgres.
 */
export interface NetworkHost {
  name: string;
  link: (s: Service) => Link;
  cut: (s: Service) => void;
  heal: (s: Service) => void;
  /** Drops this share of packets both ways on the link (0 removes the rule). */
  loss: (s: Service, probability: number) => void;
  /** Delays bytes from the engine to Postgres by the relay's delay (200 +/- 50 ms) while on. */
  delayPostgres: (on: boolean) => void;
  /** Round trips and bytes so far on the Postgres link, counted by the namespace's relay (relay.ts, turnCounter). */
  postgresLinkStats: () => Promise<RelayStats>;
  /** Local ports of the root-side relay's connections to Postgres: pg_stat_activity's client_port of this host's sessions. */
  postgresClientPorts: () => number[];
  destroy: () => Promise<void>;
}

/** Each record names the suite process that started it, so cleanup spares the processes of a suite still running. */
function recordPid(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    mkdirSync(PID_DIR, { recursive: true });
    writeFileSync(path.join(PID_DIR, String(pid)), String(process.pid));
  } catch {
    // Best effort: another user's record directory (a run as root, then one as nobody) only loses the cleanup.
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function forgetPid(pid: number | undefined): void {
  if (pid !== undefined) rmSync(path.join(PID_DIR, String(pid)), { force: true });
}

/** Records a started process, so cleanup ends it even if this suite dies. */
export function recordProcess(proc: ChildProcess): void {
  recordPid(proc.pid);
  proc.once('exit', () => forgetPid(proc.pid));
}

/** Starts a process to be ended by cleanup even if this suite dies. */
export function spawnRecorded(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT_DIR): ChildProcess {
  const proc = spawn(cmd, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  recordProcess(proc);
  return proc;
}

/** Ends processes a suite that is no longer running recorded (only if still node running this suite's files), then removes namespaces and links. */
export function cleanLeftovers(): void {
  let pids: string[] = [];
  try {
    pids = readdirSync(PID_DIR);
  } catch {
    /* none recorded */
  }
  for (const p of pids) {
    try {
      const starter = Number(readFileSync(path.join(PID_DIR, p), 'utf8'));
      if (starter > 0 && starter !== process.pid && alive(starter)) continue; // another suite's, still running
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmdline.includes('relay-cli.ts') || cmdline.includes('src/main.ts')) process.kill(Number(p), 'SIGKILL');
    } catch {
      /* already gone */
    }
    forgetPid(Number(p));
  }
  for (const line of run('ip', ['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (isOurs(name)) tryRun('ip', ['netns', 'del', name]);
  }
  for (const line of run('ip', ['-o', 'link', 'show']).split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name !== undefined && isOurs(name)) tryRun('ip', ['link', 'del', name]);
  }
}

function relayProcess(ns: string | null, routes: string[], delayable: number[]): Promise<ChildProcess> {
  const node = [
    process.execPath,
    '--import',
    'tsx',
    path.join(ROOT_DIR, 'test/chaos/netns/relay-cli.ts'),
    ...routes.flatMap((r) => ['--route', r]),
    ...delayable.flatMap((p) => ['--delayable', String(p)]),
  ];
  const proc =
    ns === null
      ? spawnRecorded(node[0]!, node.slice(1), process.env)
      : spawnRecorded('ip', ['netns', 'exec', ns, ...node], process.env);
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    proc.stdout?.once('data', () => resolve(proc));
    proc.once('exit', (code) => reject(new Error(`relay exited (${code}): ${err.trim()}`)));
  });
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}

export async function createHost(index: number, ports: Ports): Promise<NetworkHost> {
  const ns = namespaceName(index);
  const processes: ChildProcess[] = [];
  const iptablesRules = new Set<string>();
  const destroy = async (): Promise<void> => {
    await Promise.all(processes.map(stopProcess));
    tryRun('ip', ['netns', 'del', ns]);
    for (const s of SERVICES) tryRun('ip', ['link', 'del', linkOf(index, s).hostIf]);
  };
  try {
    run('ip', ['netns', 'add', ns]);
    inNamespace(ns, 'ip', ['link', 'set', 'lo', 'up']);
    for (const s of SERVICES) {
      const l = linkOf(index, s);
      run('ip', ['link', 'add', l.hostIf, 'type', 'veth', 'peer', 'name', l.nsIf]);
      run('ip', ['link', 'set', l.nsIf, 'netns', ns]);
      run('ip', ['addr', 'add', `${l.hostAddr}/30`, 'dev', l.hostIf]);
      run('ip', ['link', 'set', l.hostIf, 'up']);
      inNamespace(ns, 'ip', ['addr', 'add', `${l.nsAddr}/30`, 'dev', l.nsIf]);
      inNamespace(ns, 'ip', ['link', 'set', l.nsIf, 'up']);
    }
    const k = linkOf(index, 'kafka');
    const p = linkOf(index, 'postgres');
    processes.push(
      await relayProcess(
        null,
        [
          `${k.hostAddr}:${ports.kafka}=127.0.0.1:${ports.kafka}`,
          `${p.hostAddr}:${ports.postgres}=127.0.0.1:${ports.postgres}`,
        ],
        [],
      ),
    );
    processes.push(
      await relayProcess(
        ns,
        [
          `127.0.0.1:${ports.kafka}=${k.hostAddr}:${ports.kafka}`,
          `127.0.0.1:${ports.postgres}=${p.hostAddr}:${ports.postgres}`,
        ],
        [ports.postgres],
      ),
    );
  } catch (e) {
    await destroy();
    throw e;
  }
  const nsRelay = processes[1]!;
  const statsWaiters: ((s: RelayStats) => void)[] = [];
  let out = '';
  nsRelay.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      if (line.startsWith('{')) statsWaiters.shift()?.(JSON.parse(line) as RelayStats);
    }
  });
  const hostRelayPid = processes[0]!.pid;
  const rule = (s: Service, extra: string[]): string[][] => {
    const l = linkOf(index, s);
    return [
      ['INPUT', '-i', l.nsIf, ...extra, '-j', 'DROP'],
      ['OUTPUT', '-o', l.nsIf, ...extra, '-j', 'DROP'],
    ];
  };
  const add = (r: string[]): void => {
    const key = r.join(' ');
    if (iptablesRules.has(key)) return;
    inNamespace(ns, 'iptables', ['-I', ...r]);
    iptablesRules.add(key);
  };
  const remove = (r: string[]): void => {
    const key = r.join(' ');
    if (!iptablesRules.has(key)) return;
    inNamespace(ns, 'iptables', ['-D', ...r]);
    iptablesRules.delete(key);
  };
  const lossRules = new Map<Service, string[][]>();
  return {
    name: ns,
    link: (s) => linkOf(index, s),
    cut: (s) => rule(s, []).forEach(add),
    heal: (s) => rule(s, []).forEach(remove),
    loss: (s, probability) => {
      lossRules.get(s)?.forEach(remove);
      lossRules.delete(s);
      if (probability <= 0) return;
      const rules = rule(s, ['-m', 'statistic', '--mode', 'random', '--probability', String(probability)]);
      rules.forEach(add);
      lossRules.set(s, rules);
    },
    delayPostgres: (on) => {
      nsRelay.kill(on ? 'SIGUSR2' : 'SIGHUP');
    },
    postgresLinkStats: () =>
      new Promise((resolve, reject) => {
        const waiter = (st: RelayStats): void => {
          clearTimeout(timer);
          resolve(st);
        };
        const timer = setTimeout(() => {
          statsWaiters.splice(statsWaiters.indexOf(waiter), 1);
          reject(new Error('the relay did not answer stats'));
        }, 5000);
        statsWaiters.push(waiter);
        nsRelay.stdin?.write('stats\n');
      }),
    postgresClientPorts: () =>
      run('ss', ['-Htnp', 'state', 'established', `( dport = :${ports.postgres} )`])
        .split('\n')
        .filter((l) => l.includes(`pid=${hostRelayPid},`))
        .map((l) => Number(/127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:/.exec(l)?.[1]))
        .filter((n) => n > 0),
    destroy,
  };
}
