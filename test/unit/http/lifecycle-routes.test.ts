import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakePool, routesWith, serve, type Served } from './support.js';

const DAY = 86_400_000;
const at = Date.UTC(2026, 11, 1);

/** Lots as point_lots would answer (ms columns); alice has 5 of them. */
const lots = [
  [at - 10 * DAY, at + 100 * DAY, 40],
  [at + 3 * DAY, at + 100 * DAY, 7],
  [at - 5 * DAY, at + 200 * DAY, 10],
  [at + 9 * DAY, at + 200 * DAY, 3],
  [0, null, 25],
] as const;

let lifecycle = true;
const { pool, queries } = fakePool((sql, params) => {
  const ids = params[0] as string[] | string;
  if (sql.includes('FROM balances b') && sql.includes('point_lots'))
    return {
      rows: (ids as string[])
        .filter((id) => id === 'alice')
        .map((id) => [id, '85', '300', '2026-12-01T00:00:00.000Z', 2, '41', '10', '2027-03-11T00:00:00.000Z', '47']),
    };
  if (sql.includes('FROM balances'))
    return { rows: (ids as string[]).filter((id) => id === 'alice').map((id) => [id, '85', '300', 'x', 2, '41']) };
  if (sql.includes('FROM point_lots p')) {
    if (ids !== 'alice') return { rows: [] };
    const limit = Number(params[1]);
    const after = params.length > 2 ? [params[2] === null ? Infinity : Number(params[2]), Number(params[3])] : null;
    const rows = lots
      .map(([a, e, r]) => ({ a: String(a), e: e === null ? null : String(e), remaining: String(r), clock: String(at) }))
      .filter((x) => {
        if (after === null) return true;
        const e = x.e === null ? Infinity : Number(x.e);
        return e > after[0]! || (e === after[0] && Number(x.a) > after[1]!);
      });
    return { rows: rows.slice(0, limit) };
  }
  return { rows: [] };
});

describe('lifecycle fields and routes', () => {
  let server: Served;
  beforeAll(async () => {
    server = await serve(routesWith({ pool, lifecycle: () => lifecycle }));
  });
  afterAll(() => server.close());

  it('GET /points shows what is spendable at the clock, what is pending and the next expiry', async () => {
    lifecycle = true;
    const body = (await (await fetch(`${server.base}/points/alice`)).json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      points: 75,
      pending_points: 10,
      next_expiry: { points: 47, at: '2027-03-11T00:00:00.000Z' },
      lifetime_earned: 300,
    });
  });

  it('GET /points is as before without a block', async () => {
    lifecycle = false;
    const body = (await (await fetch(`${server.base}/points/alice`)).json()) as Record<string, unknown>;
    expect(body.points).toBe(85);
    expect('pending_points' in body || 'next_expiry' in body).toBe(false);
    expect(queries.at(-1)!.sql).not.toMatch(/point_lots/);
  });

  it('GET /points/{id}/lots pages through the lots in spend order', async () => {
    const seen: unknown[] = [];
    let url = `${server.base}/points/alice/lots?limit=2`;
    for (;;) {
      const page = (await (await fetch(url)).json()) as { items: unknown[]; next_after: string | null };
      seen.push(...page.items);
      if (page.next_after === null) break;
      url = `${server.base}/points/alice/lots?limit=2&after=${page.next_after}`;
    }
    expect(seen).toEqual([
      {
        points: 40,
        available_at: new Date(at - 10 * DAY).toISOString(),
        expires_at: new Date(at + 100 * DAY).toISOString(),
        status: 'available',
      },
      {
        points: 7,
        available_at: new Date(at + 3 * DAY).toISOString(),
        expires_at: new Date(at + 100 * DAY).toISOString(),
        status: 'pending',
      },
      {
        points: 10,
        available_at: new Date(at - 5 * DAY).toISOString(),
        expires_at: new Date(at + 200 * DAY).toISOString(),
        status: 'available',
      },
      {
        points: 3,
        available_at: new Date(at + 9 * DAY).toISOString(),
        expires_at: new Date(at + 200 * DAY).toISOString(),
        status: 'pending',
      },
      { points: 25, available_at: new Date(0).toISOString(), expires_at: null, status: 'available' },
    ]);
  });

  it('GET /points/{id}/lots: 404 for an unknown user, 400 for a bad cursor or limit', async () => {
    lifecycle = true;
    expect((await fetch(`${server.base}/points/nobody/lots`)).status).toBe(404);
    expect((await fetch(`${server.base}/points/alice/lots?after=soon`)).status).toBe(400);
    expect((await fetch(`${server.base}/points/alice/lots?limit=0`)).status).toBe(400);
  });
});
