import { describe, expect, it } from 'vitest';
import { StartupTimeoutError, waitForDependency } from '../../../src/startup/wait-for-dependency.js';

/** A clock that moves only when the code under test sleeps. */
function fakeTime(): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms) => void (slept.push(ms), (t += ms)), slept };
}

describe('waitForDependency', () => {
  it('retries until the dependency answers, reporting the state once each way (not once per attempt)', async () => {
    const time = fakeTime();
    const states: (string | null)[] = [];
    let calls = 0;
    const v = await waitForDependency(
      'postgres',
      async () => {
        calls++;
        if (calls < 6) throw new Error(`connect ECONNREFUSED (try ${calls})`);
        return 'up';
      },
      {
        deadline: Infinity,
        onState: (s) => states.push(s),
        now: time.now,
        sleep: time.sleep,
        backoff: { baseMs: 100, capMs: 400, jitter: 0 },
      },
    );
    expect(v).toBe('up');
    expect(calls).toBe(6);
    expect(states).toEqual(['waiting for postgres: connect ECONNREFUSED (try 1)', null]);
    expect(time.slept).toEqual([100, 200, 400, 400, 400]);
  });

  it('says nothing when the dependency answers at once', async () => {
    const states: (string | null)[] = [];
    await waitForDependency('kafka', async () => 1, { deadline: Infinity, onState: (s) => states.push(s) });
    expect(states).toEqual([]);
  });

  it('gives up at the deadline with the last reason', async () => {
    const time = fakeTime();
    const p = waitForDependency(
      'kafka',
      async () => {
        throw new Error('Broker transport failure');
      },
      {
        deadline: 1000,
        onState: () => undefined,
        now: time.now,
        sleep: time.sleep,
        backoff: { baseMs: 100, capMs: 400, jitter: 0 },
      },
    );
    await expect(p).rejects.toThrow(StartupTimeoutError);
    await expect(p).rejects.toThrow(/STARTUP_TIMEOUT_MS: waiting for kafka: Broker transport failure/);
    expect(time.now()).toBeLessThanOrEqual(1000);
  });
});
