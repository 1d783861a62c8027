/** Capped exponential backoff with jitter: the one delay rule for anything that retries. */
export interface BackoffOptions {
  /** Delay before the second attempt (ms); doubles each attempt after that. */
  baseMs?: number;
  /** Upper bound of any delay (ms). */
  capMs?: number;
  /** 0..1: how much of each delay is random, so retrying processes do not march in step. */
  jitter?: number;
}

export function backoffMs(attempt: number, o: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = o.baseMs ?? 100;
  const cap = o.capMs ?? 5000;
  const jitter = o.jitter ?? 0.5;
  const full = Math.min(cap, base * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  return full * (1 - jitter + jitter * random());
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
