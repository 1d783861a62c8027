import { describe, expect, it } from 'vitest';
import { isOurs, linkOf, MAX_HOSTS, namespaceName, SERVICES } from '../../chaos/netns/addressing.js';

describe('test host addressing', () => {
  it('gives every link of every host its own /30 inside 10.231.77.0/24', () => {
    const seen = new Set<string>();
    for (let h = 0; h < MAX_HOSTS; h++) {
      for (const s of SERVICES) {
        const l = linkOf(h, s);
        const hostLast = Number(l.hostAddr.split('.')[3]);
        expect(l.hostAddr.startsWith('10.231.77.')).toBe(true);
        expect(hostLast % 4).toBe(1);
        expect(Number(l.nsAddr.split('.')[3])).toBe(hostLast + 1);
        expect(hostLast + 2).toBeLessThan(255);
        expect(l.hostIf.length).toBeLessThanOrEqual(15); // IFNAMSIZ
        for (const x of [l.hostAddr, l.hostIf, l.nsIf]) {
          expect(seen.has(x)).toBe(false);
          seen.add(x);
        }
      }
    }
    expect(() => linkOf(MAX_HOSTS, 'kafka')).toThrow();
  });

  it('recognises only its own namespaces and interfaces as leftovers', () => {
    expect(isOurs(namespaceName(3))).toBe(true);
    expect(isOurs(linkOf(12, 'postgres').hostIf)).toBe(true);
    for (const other of ['lo', 'eth0', 'lnx', 'lnx-a', 'veth0', 'lnx0xh', 'docker0']) expect(isOurs(other)).toBe(false);
  });
});
