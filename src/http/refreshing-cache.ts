import { errorText } from '../errors.js';

export interface Cached<T> {
  value: T;
  /** When `value` was loaded; null while nothing has loaded yet. */
  atMs: number | null;
  /** The last load's error, cleared by the next success. */
  error: string | null;
}

/** `p`, or nothing after `ms`, whichever comes first (the timer does not outlive `p`). */
function within(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
}

/**
 * A value loaded at most once per `maxAgeMs`, one load at a time, that a reader never waits on for more
 * than `waitMs`: a slow or hung source (Postgres down) makes the value stale, never the reader slow.
 */
export class RefreshingCache<T> {
  private current: Cached<T>;
  private loading: Promise<void> | null = null;
  private startedMs = -Infinity;

  constructor(
    private readonly load: () => Promise<T>,
    initial: T,
    private readonly maxAgeMs: number,
    private readonly waitMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.current = { value: initial, atMs: null, error: null };
  }

  async get(): Promise<Cached<T>> {
    if (this.loading === null && this.now() - this.startedMs >= this.maxAgeMs) {
      this.startedMs = this.now();
      this.loading = this.load().then(
        (value) => {
          this.current = { value, atMs: this.now(), error: null };
        },
        (e: unknown) => {
          this.current = { ...this.current, error: errorText(e, 200) };
        },
      );
      void this.loading.finally(() => (this.loading = null));
    }
    if (this.loading !== null) await within(this.loading, this.waitMs);
    return this.current;
  }
}
