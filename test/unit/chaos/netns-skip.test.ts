import { afterEach, describe, expect, it, vi } from 'vitest';
import { namespacesUnavailable } from '../../chaos/netns/commands.js';
import { runNetworkScenario } from '../../chaos/netns/harness.js';

describe('network scenarios without root', () => {
  afterEach(() => vi.restoreAllMocks());

  it('are skipped with one line each, counted apart, and touch nothing', async () => {
    vi.spyOn(process as { getuid: () => number }, 'getuid').mockReturnValue(65534);
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    expect(namespacesUnavailable()).toBe('not root (network namespaces need root)');
    const act = vi.fn(() => Promise.resolve('ran'));
    const row = await runNetworkScenario('netns: a scenario', { rate: 1, seconds: 1, hosts: 1 }, act);
    expect(act).not.toHaveBeenCalled();
    expect(row).toMatchObject({ trials: 0, events: 0, result: 'skipped' });
    expect(row.note).toBe('skipped: not root (network namespaces need root)');
    expect(lines).toEqual(['[chaos] netns: a scenario: skipped: not root (network namespaces need root)\n']);
  });
});
