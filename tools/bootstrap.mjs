#!/usr/bin/env node
// Sets a clone up for one npm script: system packages, `npm ci`, dist/. Run as an npm `pre` script
// (`node tools/bootstrap.mjs test`), so it runs before node_modules exists: node: built-ins only.
// On a machine already set up it prints nothing and costs one dpkg-query and a few stat calls.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The one list of Debian packages the project needs, by what needs them. */
export const PACKAGES = {
  // `npm ci` compiles librdkafka against these (its bundled download fails offline), with node-gyp's toolchain.
  native: [
    'zlib1g-dev',
    'libssl-dev',
    'libzstd-dev',
    'liblz4-dev',
    'libsasl2-dev',
    'libcurl4-openssl-dev',
    'python3',
    'make',
    'g++',
  ],
  // The local Kafka broker: its jars come from Maven Central and run on Java.
  broker: ['maven', 'openjdk-17-jre-headless'],
  // Tests: a real Prometheus scrapes the engine, kcat is the benchmark's baseline, the compose client parses
  // docker-compose.yml, Chromium loads the console, iproute2 (`ip netns`) and iptables (cuts and loss on a link)
  // give the chaos suite its network faults.
  test: ['kcat', 'prometheus', 'docker-compose', 'chromium', 'iproute2', 'iptables'],
  // Only when no server answers on 127.0.0.1:5432: the stack then runs a private cluster from these binaries.
  postgres: ['postgresql'],
};

/**
 * What each npm script needs. `native` is added whenever `npm ci` has to run. `runsDist`: the script runs
 * the built engine, so a failed build stops it; the others run from source and only warn.
 */
export const COMMANDS = {
  start: { packages: [], postgres: false, runsDist: true },
  demo: { packages: PACKAGES.broker, postgres: true, runsDist: false },
  test: { packages: [...PACKAGES.broker, ...PACKAGES.test], postgres: true, runsDist: false },
  bench: { packages: [...PACKAGES.broker, 'kcat'], postgres: true, runsDist: true },
  // kcat produces the soak's steady load (the JavaScript producer cannot keep its rate beside the engine).
  chaos: { packages: [...PACKAGES.broker, 'kcat', 'iproute2', 'iptables'], postgres: true, runsDist: false },
};

/** Inputs of `npm run build`: package.json's "type" decides the module format tsc emits. */
export const BUILD_INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
export const INSTALL_STAMP = 'node_modules/.bootstrap-stamp';
export const BUILD_STAMP = 'dist/.bootstrap-stamp';
const LOCK_FILE = '.bootstrap.lock';

/** Packages of `wanted` that `dpkg-query -W -f='${Package} ${Status}\n'` does not report as installed. */
export function missingPackages(wanted, dpkgOutput) {
  const installed = new Set();
  for (const line of dpkgOutput.split('\n')) {
    const [name, , , state] = line.trim().split(/\s+/);
    if (name && state === 'installed') installed.add(name);
  }
  return [...new Set(wanted)].filter((p) => !installed.has(p));
}

/** True when dpkg was interrupted mid-install: apt-get refuses to work until `dpkg --configure -a`. */
export function dpkgInterrupted(dpkgOutput) {
  return /\s(unpacked|half-configured|half-installed|triggers-awaited)\s*$/m.test(dpkgOutput);
}

/**
 * How to install `missing`: the apt-get steps when we may (root, or sudo without a password),
 * otherwise the one line to show the user.
 */
export function installPlan(missing, { root, sudo }) {
  const list = missing.join(' ');
  if (!root && !sudo) {
    return {
      kind: 'ask',
      line: `missing system packages: ${list}. Run: sudo apt-get update && sudo apt-get install -y ${list}   then this command again.`,
    };
  }
  // sudo resets the environment, so the variable is passed through env(1).
  const as = root ? [] : ['sudo', '-n', 'env', 'DEBIAN_FRONTEND=noninteractive'];
  return {
    kind: 'install',
    steps: [
      [...as, 'apt-get', 'update', '-qq'],
      [...as, 'apt-get', 'install', '-y', '-qq', ...missing],
    ],
  };
}

/**
 * Why `npm ci` must run, or null when node_modules is current. Fresh means a successful install
 * newer than package-lock.json: our stamp (written only after `npm ci` succeeded, so an interrupted one
 * runs again) or npm's own node_modules/.package-lock.json (written at the end of an install, e.g. a
 * hand-run `npm ci` or `npm install x`). Native modules are built for one Node ABI.
 */
export function installReason({ lockMs, stampMs, stampAbi, npmMarkerMs, abi }) {
  if (stampMs !== null && stampAbi !== abi) return `Node changed (module ABI ${stampAbi} -> ${abi})`;
  const installedMs = Math.max(stampMs ?? -1, npmMarkerMs ?? -1);
  if (installedMs < 0) return 'node_modules is missing or incomplete';
  if (installedMs < lockMs) return 'package-lock.json or patches/ changed';
  return null;
}

/** Why dist/ must be rebuilt, or null when the last successful build is newer than every input. */
export function buildReason({ newestInputMs, stampMs }) {
  if (stampMs === null) return 'dist/ is missing or was not built here';
  if (newestInputMs > stampMs) return 'src/ changed';
  return null;
}

/** Latest mtime of the given files and folders (recursively; a folder's own mtime catches deletions). */
export function newestMtime(paths) {
  let newest = -1;
  const visit = (p) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) for (const e of readdirSync(p)) visit(path.join(p, e));
  };
  for (const p of paths) visit(p);
  return newest;
}

const say = (line) => process.stdout.write(`[setup] ${line}\n`);

function mtimeOrNull(p) {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return null;
  }
}

/** Writes a stamp dated `startedMs`, so an input edited while the step ran still counts as newer. */
function writeStamp(file, text, startedMs) {
  try {
    writeFileSync(file, text);
    utimesSync(file, startedMs / 1000, startedMs / 1000);
  } catch {
    // A read-only tree (an image) only loses the shortcut; the next run checks again.
  }
}

function run(argv, options = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { cwd: ROOT, stdio: 'inherit', ...options });
  if (r.error) return { ok: false, why: r.error.message };
  return { ok: r.status === 0, why: r.signal ?? `exit ${r.status}` };
}

function fail(line) {
  process.stderr.write(`[setup] ${line}\n`);
  process.exit(1);
}

/** True when something accepts TCP connections on host:port within a short wait. */
function answers(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Packages of `wanted` this machine lacks, with dpkg's answer; none when there is no dpkg to ask. */
async function findMissing(wanted) {
  if (wanted.length === 0) return { missing: [], dpkg: '' };
  const q = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...new Set(wanted)], { encoding: 'utf8' });
  if (q.error) return { missing: [], dpkg: '' }; // Not Debian: a missing library shows up in npm ci's own error.
  let missing = missingPackages(wanted, q.stdout);
  if (missing.includes('postgresql') && (await answers('127.0.0.1', 5432)))
    missing = missing.filter((p) => p !== 'postgresql');
  return { missing, dpkg: q.stdout };
}

function installPackages(missing, dpkg) {
  const root = process.getuid?.() === 0;
  const sudo = !root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  const plan = installPlan(missing, { root, sudo });
  if (plan.kind === 'ask') fail(plan.line);
  say(`installing system packages: ${missing.join(' ')} (apt-get, a few minutes)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (dpkgInterrupted(dpkg)) run([...(root ? [] : ['sudo', '-n']), 'dpkg', '--configure', '-a'], { env });
  for (const step of plan.steps) {
    // apt's progress goes nowhere; its errors (stderr) stay visible.
    const r = run(step, { env, stdio: ['ignore', 'ignore', 'inherit'] });
    if (!r.ok) fail(`${step.join(' ')} failed (${r.why})`);
  }
}

function npmCi(reason) {
  say(`npm ci: ${reason} (librdkafka is compiled from source, about 2 minutes)`);
  const started = Date.now();
  rmSync(path.join(ROOT, INSTALL_STAMP), { force: true });
  // From source everywhere (a machine that can download the prebuilt binary too): the postinstall patches
  // the client's source and recompiles the patched file (tools/kafka-binding.mjs).
  const env = {
    ...process.env,
    CKJS_LINKING: 'dynamic',
    npm_config_build_from_source: '@confluentinc/kafka-javascript',
  };
  // The installed Node headers spare node-gyp a download.
  if (existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
  const r = run(['npm', 'ci', '--no-audit', '--no-fund'], { env });
  if (!r.ok) fail(`npm ci failed (${r.why}); the next run tries again`);
  writeStamp(path.join(ROOT, INSTALL_STAMP), `abi ${process.versions.modules}\n`, started);
}

function build(reason, runsDist) {
  say(`building dist/: ${reason}`);
  const started = Date.now();
  rmSync(path.join(ROOT, BUILD_STAMP), { force: true });
  const r = run(['npm', 'run', '--silent', 'build']);
  if (r.ok) writeStamp(path.join(ROOT, BUILD_STAMP), 'built\n', started);
  else if (runsDist) fail(`npm run build failed (${r.why})`);
  else say(`npm run build failed (${r.why}); going on, as this command runs the sources (the next run builds again)`);
}

function readInstallState() {
  const stampFile = path.join(ROOT, INSTALL_STAMP);
  const stampMs = mtimeOrNull(stampFile);
  let stampAbi = null;
  if (stampMs !== null) stampAbi = /abi (\S+)/.exec(readFileSync(stampFile, 'utf8'))?.[1] ?? null;
  return {
    // A changed patch of a dependency (patches/) needs an install as a changed lock does.
    lockMs: Math.max(mtimeOrNull(path.join(ROOT, 'package-lock.json')) ?? 0, newestMtime([path.join(ROOT, 'patches')])),
    stampMs,
    stampAbi,
    npmMarkerMs: mtimeOrNull(path.join(ROOT, 'node_modules/.package-lock.json')),
    abi: process.versions.modules,
  };
}

/** What this run must do for `spec`: nothing at all on a machine already set up. */
async function survey(spec) {
  const state = readInstallState();
  const install = installReason(state);
  const wanted = [...spec.packages, ...(install ? PACKAGES.native : []), ...(spec.postgres ? PACKAGES.postgres : [])];
  const { missing, dpkg } = await findMissing(wanted);
  const rebuild = buildReason({
    newestInputMs: newestMtime(BUILD_INPUTS.map((p) => path.join(ROOT, p))),
    stampMs: mtimeOrNull(path.join(ROOT, BUILD_STAMP)),
  });
  return { state, install, missing, dpkg, rebuild };
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/**
 * One bootstrap acts at a time: two terminals on a fresh clone would otherwise run two `npm ci` into one
 * node_modules. A lock left by a killed run (Ctrl-C) names a dead process and is taken over.
 */
function lock() {
  const file = path.join(ROOT, LOCK_FILE);
  for (let waiting = false; ;) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      process.on('exit', () => rmSync(file, { force: true }));
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') return; // a read-only tree: nothing to lock, and the steps will say what fails
    }
    const holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
    if (!alive(holder)) {
      rmSync(file, { force: true });
      continue;
    }
    if (!waiting) say(`waiting for another set-up (pid ${holder}) to finish`);
    waiting = true;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  }
}

export async function main(command) {
  const spec = COMMANDS[command];
  if (!spec) {
    process.stderr.write(`usage: node tools/bootstrap.mjs ${Object.keys(COMMANDS).join('|')}\n`);
    process.exit(2);
  }
  const started = Date.now();
  let todo = await survey(spec);
  if (todo.install || todo.rebuild || todo.missing.length > 0) {
    lock();
    todo = await survey(spec); // another run may have done it while we waited
  }
  const { state, install, missing, dpkg, rebuild } = todo;
  if (missing.length > 0) installPackages(missing, dpkg);
  if (install) npmCi(install);
  // Adopt an install npm finished on its own, so the stamp carries this Node's ABI from now on.
  else if (state.stampMs === null) writeStamp(path.join(ROOT, INSTALL_STAMP), `abi ${state.abi}\n`, Date.now());
  if (rebuild) build(rebuild, spec.runsDist);
  if (missing.length > 0 || install || rebuild) say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv[2] ?? '');
}
