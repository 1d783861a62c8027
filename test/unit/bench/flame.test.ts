import { describe, expect, it } from 'vitest';
import { buildFlameTree, flameSvg, topSelf } from '../../../bench/flame.js';

const frame = (id: number, functionName: string, children: number[] = []) => ({
  id,
  callFrame: { functionName, url: 'file:///x/src/a.js', lineNumber: id },
  children,
});

describe('flame graph from a .cpuprofile', () => {
  // root -> main -> (decode, apply -> evaluate), plus idle and the worker's wait loop.
  const profile = {
    nodes: [
      frame(1, '(root)', [2, 6, 7]),
      frame(2, 'main', [3, 4]),
      frame(3, 'decode'),
      frame(4, 'apply', [5]),
      frame(5, 'evaluate'),
      frame(6, '(idle)'),
      frame(7, 'atomicsWaitLoop'),
    ],
    samples: [3, 3, 5, 4, 6, 6, 6, 7, 2],
    timeDeltas: [100, 100, 100, 100, 1000, 1000, 1000, 1000, 50],
  };

  it('weights frames by sampled time and leaves idle and task waits out', () => {
    const root = buildFlameTree(profile);
    expect(root.total).toBe(450);
    const main = [...root.children.values()].find((f) => f.name.startsWith('main'))!;
    expect(main.total).toBe(450);
    expect(main.self).toBe(50);
    const apply = [...main.children.values()].find((f) => f.name.startsWith('apply'))!;
    expect(apply.total).toBe(200);
    expect(topSelf(root, 1)[0]!.name).toMatch(/^decode/);
    expect(topSelf(root, 1)[0]!.ms).toBe(0); // 200 us
  });

  it('draws one rectangle per frame wider than a pixel, labelled with its time', () => {
    const svg = flameSvg('t', buildFlameTree(profile), 450);
    expect(svg.match(/<rect /g)!.length).toBe(1 + 5); // background + all, main, decode, apply, evaluate
    expect(svg).toContain('evaluate src/a.js:6: 0 ms (22.2 %)');
    expect(svg).not.toContain('(idle)');
    expect(svg).not.toContain('atomicsWaitLoop');
  });
});
