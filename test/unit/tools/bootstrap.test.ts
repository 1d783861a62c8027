import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  COMMANDS,
  PACKAGES,
  buildReason,
  dpkgInterrupted,
  installPlan,
  installReason,
  missingPackages,
  newestMtime,
} from '../../../tools/bootstrap.mjs';

describe('missingPackages', () => {
  // What `dpkg-query -W -f='${Package} ${Status}\n'` prints: unknown names only on stderr.
  const dpkg = [
    'make install ok installed',
    'kcat deinstall ok config-files',
    'maven install ok unpacked',
    'g++ install ok installed',
    '',
  ].join('\n');

  it('lists packages not fully installed, and those dpkg never heard of', () => {
    expect(missingPackages(['make', 'kcat', 'maven', 'g++', 'chromium'], dpkg)).toEqual(['kcat', 'maven', 'chromium']);
  });

  it('asks once for a package two groups need', () => {
    expect(missingPackages(['kcat', 'kcat'], '')).toEqual(['kcat']);
  });

  it('sees an install dpkg left half done', () => {
    expect(dpkgInterrupted(dpkg)).toBe(true);
    expect(dpkgInterrupted('make install ok installed\n')).toBe(false);
  });
});

describe('installPlan', () => {
  it('without root or sudo: one line with the exact command', () => {
    const plan = installPlan(['kcat', 'maven'], { root: false, sudo: false });
    expect(plan.kind).toBe('ask');
    if (plan.kind !== 'ask') return;
    expect(plan.line).not.toContain('\n');
    expect(plan.line).toContain('sudo apt-get update && sudo apt-get install -y kcat maven');
  });

  it('as root: apt-get update, then install, non-interactively', () => {
    expect(installPlan(['kcat'], { root: true, sudo: false })).toEqual({
      kind: 'install',
      steps: [
        ['apt-get', 'update', '-qq'],
        ['apt-get', 'install', '-y', '-qq', 'kcat'],
      ],
    });
  });

  it('with sudo: never prompts (-n) and keeps DEBIAN_FRONTEND past sudo', () => {
    const plan = installPlan(['kcat'], { root: false, sudo: true });
    if (plan.kind !== 'install') throw new Error('expected an install plan');
    for (const step of plan.steps)
      expect(step.slice(0, 4)).toEqual(['sudo', '-n', 'env', 'DEBIAN_FRONTEND=noninteractive']);
  });
});

describe('which command needs what', () => {
  it('start needs no system package on a set-up machine; test needs the broker and the test tools', () => {
    expect(COMMANDS.start.packages).toEqual([]);
    expect(COMMANDS.test.packages).toEqual(expect.arrayContaining([...PACKAGES.broker, ...PACKAGES.test]));
    expect(COMMANDS.demo.packages).not.toContain('chromium');
  });
});

describe('installReason', () => {
  const base = { lockMs: 1000, stampMs: 2000, stampAbi: '115', npmMarkerMs: 2000, abi: '115' };

  it('a successful install newer than the lock file is current', () => {
    expect(installReason(base)).toBeNull();
  });

  it('an interrupted npm ci left no stamp and no npm marker: install again', () => {
    expect(installReason({ ...base, stampMs: null, stampAbi: null, npmMarkerMs: null })).toMatch(/missing/);
  });

  it('a lock file newer than the last install: install again', () => {
    expect(installReason({ ...base, lockMs: 3000 })).toMatch(/package-lock/);
  });

  it('an install npm finished by itself (npm install x) counts', () => {
    expect(installReason({ ...base, lockMs: 3000, npmMarkerMs: 3001 })).toBeNull();
    expect(installReason({ ...base, stampMs: null, stampAbi: null })).toBeNull();
  });

  it('native modules built for another Node: install again', () => {
    expect(installReason({ ...base, abi: '127' })).toMatch(/ABI 115 -> 127/);
  });
});

describe('buildReason', () => {
  it('builds when never built, or when an input is newer than the last build', () => {
    expect(buildReason({ newestInputMs: 5, stampMs: null })).toMatch(/missing/);
    expect(buildReason({ newestInputMs: 6, stampMs: 5 })).toMatch(/changed/);
    expect(buildReason({ newestInputMs: 5, stampMs: 5 })).toBeNull();
  });
});

describe('newestMtime', () => {
  it('finds the newest file however deep, and skips paths that do not exist', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bootstrap-'));
    mkdirSync(path.join(dir, 'a/b'), { recursive: true });
    const deep = path.join(dir, 'a/b/deep.ts');
    const top = path.join(dir, 'top.json');
    writeFileSync(deep, '');
    writeFileSync(top, '');
    for (const p of [dir, path.join(dir, 'a'), path.join(dir, 'a/b'), top]) utimesSync(p, 100, 100);
    utimesSync(deep, 200, 200);
    expect(newestMtime([dir, path.join(dir, 'nope')])).toBe(200_000);
    expect(newestMtime([top])).toBe(100_000);
  });
});
