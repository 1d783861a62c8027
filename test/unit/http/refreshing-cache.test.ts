import { describe, expect, it } from 'vitest';
import { RefreshingCache } from '../../../src/http/refreshing-cache.js';

describe('RefreshingCache', () => {
  it('loads at most once per max age, and one load at a time', async () => {
    let now = 0;
    let loads = 0;
    const c = new RefreshingCache(
      async () => ++loads,
      0,
      1000,
      100,
      () => now,
    );
    expect((await c.get()).value).toBe(1);
    now = 500;
    expect((await Promise.all([c.get(), c.get()])).map((x) => x.value)).toEqual([1, 1]);
    now = 1000;
    expect((await c.get()).value).toBe(2);
    expect(loads).toBe(2);
  });

  it('a slow load makes the value stale, never the reader wait past its bound', async () => {
    let release: (v: number) => void = () => undefined;
    let first = true;
    const c = new RefreshingCache(
      () => (first ? ((first = false), Promise.resolve(1)) : new Promise<number>((r) => (release = r))),
      0,
      0,
      50,
    );
    expect((await c.get()).value).toBe(1);
    const t0 = performance.now();
    const stale = await c.get();
    expect(stale.value).toBe(1);
    expect(performance.now() - t0).toBeLessThan(1000);
    release(2);
    await new Promise((r) => setTimeout(r, 0));
    expect((await c.get()).value).toBe(2);
  });

  it('keeps the last value and says why when a load fails; a success clears the error', async () => {
    let fail = false;
    const c = new RefreshingCache(
      async () => {
        if (fail) throw new Error('connection refused');
        return 'rows';
      },
      '',
      0,
      100,
    );
    expect(await c.get()).toMatchObject({ value: 'rows', error: null });
    fail = true;
    expect(await c.get()).toMatchObject({ value: 'rows', error: 'connection refused' });
    fail = false;
    expect(await c.get()).toMatchObject({ value: 'rows', error: null });
  });
});
