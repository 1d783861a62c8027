import { backoffMs, sleep, type BackoffOptions } from '../backoff.js';
import { errorText } from '../errors.js';

export class StartupTimeoutError extends Error {}

export interface WaitOptions {
  /** Give up at this time (ms since epoch); Infinity waits forever. */
  deadline: number;
  /** Called when the dependency stops answering (with why) and when it answers again (null): once per change, never per attempt. */
  onState: (waiting: string | null) => void;
  backoff?: BackoffOptions;
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * Runs `attempt` until it succeeds, waiting with capped exponential backoff in between. Under an
 * orchestrator that starts everything at once, Kafka or Postgres not answering yet is normal: the
 * engine waits for them instead of exiting into a crash loop.
 */
export async function waitForDependency<T>(name: string, attempt: () => Promise<T>, o: WaitOptions): Promise<T> {
  const now = o.now ?? Date.now;
  const pause = o.sleep ?? sleep;
  let waiting: string | null = null;
  for (let n = 1; ; n++) {
    try {
      const v = await attempt();
      if (waiting !== null) o.onState(null);
      return v;
    } catch (e) {
      const why = `waiting for ${name}: ${errorText(e)}`;
      // The state is "waiting for <name>"; a changing error text is not a new state.
      if (waiting === null) o.onState(why);
      waiting = why;
      const delay = backoffMs(n, o.backoff);
      if (now() + delay > o.deadline) throw new StartupTimeoutError(`gave up after STARTUP_TIMEOUT_MS: ${why}`);
      await pause(delay);
    }
  }
}
