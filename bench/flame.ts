import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Flame graphs (SVG, one per thread) from the .cpuprofile files that `node --cpu-prof` writes:
 *   ENGINE_NODE_ARGS="--cpu-prof --cpu-prof-dir=prof" npm run bench -- --quick --events 600000
 *   npm run flame -- prof
 * Width is sampled time; idle and the worker's wait-for-task loop are left out, so the graph
 * shows where busy time goes. A table of the top self times is printed beside each file.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface Frame {
  name: string;
  self: number;
  total: number;
  children: Map<string, Frame>;
}

/** Not work: the thread waiting (for events, or piscina's Atomics.wait loop for a task). */
const IDLE = new Set(['(idle)', 'atomicsWaitLoop']);

function frameName(n: ProfileNode): string {
  const fn = n.callFrame.functionName || '(anonymous)';
  const file = n.callFrame.url.split('/').slice(-2).join('/');
  return file ? `${fn} ${file}:${n.callFrame.lineNumber + 1}` : fn;
}

/** Merges the profile's call tree by name along each path, with sampled microseconds as weights. */
export function buildFlameTree(p: CpuProfile): Frame {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const root: Frame = { name: 'all', self: 0, total: 0, children: new Map() };
  const walk = (n: ProfileNode, into: Frame): number => {
    const name = frameName(n);
    if (IDLE.has(n.callFrame.functionName) || name === '(idle)') return 0;
    let f = into.children.get(name);
    if (!f) into.children.set(name, (f = { name, self: 0, total: 0, children: new Map() }));
    const self = selfUs.get(n.id) ?? 0;
    let total = self;
    for (const c of n.children ?? []) total += walk(byId.get(c)!, f);
    f.self += self;
    f.total += total;
    return total;
  };
  const top = p.nodes[0];
  if (top) for (const c of top.children ?? []) root.total += walk(byId.get(c)!, root);
  return root;
}

export function flameSvg(title: string, root: Frame, width = 1200): string {
  const rowH = 17;
  const rects: string[] = [];
  let depthMax = 0;
  const minUs = root.total / width; // narrower than a pixel: not drawn
  const draw = (f: Frame, x: number, depth: number): void => {
    const w = (f.total / root.total) * width;
    depthMax = Math.max(depthMax, depth);
    const y = depth * rowH;
    const hue = 20 + ((f.name.length * 37) % 40);
    rects.push(
      `<g><title>${esc(f.name)}: ${(f.total / 1000).toFixed(0)} ms (${((100 * f.total) / root.total).toFixed(1)} %)</title>` +
        `<rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${rowH - 1}" fill="hsl(${hue},85%,${60 - (depth % 3) * 5}%)"/>` +
        (w > 60
          ? `<text x="${(x + 3).toFixed(1)}" y="${y + 12}" font-size="11">${esc(clip(f.name, Math.floor(w / 6.5)))}</text>`
          : '') +
        '</g>',
    );
    let cx = x;
    for (const c of [...f.children.values()].sort((a, b) => b.total - a.total)) {
      if (c.total < minUs) continue;
      draw(c, cx, depth + 1);
      cx += (c.total / root.total) * width;
    }
  };
  draw(root, 0, 0);
  const height = (depthMax + 1) * rowH + 30;
  // Icicle layout (root on top), labelled with the busy time.
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace">
<rect width="100%" height="100%" fill="white"/>
<text x="4" y="${height - 10}" font-size="13" font-family="sans-serif">${esc(title)}: ${(root.total / 1e6).toFixed(2)} s busy (idle and waiting for tasks left out); hover for times</text>
${rects.join('\n')}
</svg>
`;
}

/** The functions with the most self time. */
export function topSelf(root: Frame, n: number): { name: string; ms: number; share: string }[] {
  const self = new Map<string, number>();
  const visit = (f: Frame): void => {
    self.set(f.name, (self.get(f.name) ?? 0) + f.self);
    for (const c of f.children.values()) visit(c);
  };
  for (const c of root.children.values()) visit(c);
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: `${((100 * us) / root.total).toFixed(1)} %` }));
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, Math.max(0, n - 1))}…`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Writes <profile>.svg beside each .cpuprofile in `dir`; returns a summary (busy time, top self times) per thread. */
export function renderFlameGraphs(dir: string): string[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  if (files.length === 0) throw new Error(`no .cpuprofile files in ${dir}`);
  const lines: string[] = [];
  for (const f of files) {
    const root = buildFlameTree(JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as CpuProfile);
    // node names a thread's profile CPU.<date>.<time>.<pid>.<thread id>.<seq>: thread 0 is the main thread.
    const thread = f.split('.')[4] === '0' ? 'main thread' : `worker thread ${f.split('.')[4]}`;
    const out = path.join(dir, f.replace(/\.cpuprofile$/, '.svg'));
    writeFileSync(out, flameSvg(`${thread} (${f})`, root));
    lines.push(`${thread}: ${(root.total / 1e6).toFixed(2)} s busy -> ${out}`);
    for (const r of topSelf(root, 12))
      lines.push(`  ${String(r.ms).padStart(6)} ms  ${r.share.padStart(7)}  ${r.name}`);
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: npm run flame -- <directory of .cpuprofile files>');
  console.log(renderFlameGraphs(dir).join('\n'));
}
