// npm's postinstall, after patch-package: compiles @confluentinc/kafka-javascript again with the patch of
// patches/ (consume(n) builds its message objects faster: every key and value of a batch as a Buffer over
// one ArrayBuffer, property names made once; docs/performance.md, "The client's message conversion").
// The dependency was just compiled from its unpatched source (npm_config_build_from_source): node-gyp's
// make recompiles only the patched file. Without that build (a prebuilt binary), it compiles it whole.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import process from 'node:process';

const dir = path.join('node_modules', '@confluentinc', 'kafka-javascript');
const incremental = existsSync(path.join(dir, 'build', 'Makefile'));
// npm hands its own node-gyp to lifecycle scripts; run by hand, the one npm bundles (beside this Node), else PATH's.
const bundled = path.join(
  path.dirname(process.execPath),
  '..',
  'lib',
  'node_modules',
  'npm',
  'node_modules',
  'node-gyp',
  'bin',
  'node-gyp.js',
);
const gyp = process.env.npm_config_node_gyp ?? (existsSync(bundled) ? bundled : undefined);
const [cmd, ...args] = [
  ...(gyp ? [process.execPath, gyp] : ['node-gyp']),
  incremental ? 'build' : 'rebuild',
  '--jobs',
  'max',
];
process.stdout.write(
  `[kafka-binding] ${incremental ? 'recompiling the patched file' : 'compiling from source'} in ${dir}\n`,
);
// The compiler's warnings about the dependency's own code are noise unless the build fails.
const r = spawnSync(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  process.stderr.write(String(r.stderr ?? '').slice(-6000));
  process.stderr.write(`[kafka-binding] node-gyp ${args[0]} failed (${r.error?.message ?? `exit ${r.status}`})\n`);
  process.exit(1);
}
