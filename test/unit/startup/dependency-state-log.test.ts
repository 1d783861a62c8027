import { describe, expect, it } from 'vitest';
import { dependencyStateLog } from '../../../src/startup/dependency-state-log.js';

function recorder(): {
  lines: string[];
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
} {
  const lines: string[] = [];
  return {
    lines,
    log: {
      info: (_o, m) => lines.push(`info ${m}`),
      warn: (_o, m) => lines.push(`warn ${m}`),
    },
  };
}

describe('dependencyStateLog', () => {
  it('logs "not answering" once per dependency; a later step that waits says which step', () => {
    const r = recorder();
    const state = dependencyStateLog(r.log);
    state('kafka', 'topics', 'waiting for kafka: connect ECONNREFUSED');
    state('kafka', 'topics', null);
    state('kafka', 'dead-letter producer', 'waiting for kafka: timed out');
    state('kafka', 'dead-letter producer', null);
    state('postgres', 'migrations', 'waiting for postgres: ECONNREFUSED');
    expect(r.lines).toEqual([
      'warn kafka not answering yet; start-up waits for it',
      'info kafka answers; start-up continues',
      'warn kafka answers but not yet for dead-letter producer; start-up waits for it',
      'info kafka ready for dead-letter producer; start-up continues',
      'warn postgres not answering yet; start-up waits for it',
    ]);
  });
});
