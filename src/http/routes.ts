import type pg from 'pg';
import type { Registry } from 'prom-client';
import { errorJson, json, type Route } from './uws-server.js';

const USER_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

export interface RouteDeps {
  pool: pg.Pool;
  registry: Registry;
  isReady: () => { ready: boolean; reasons: string[] };
}

/**
 * Read-only routes: balances come from Postgres, so a read that follows a flush's
 * commit always sees it (no cache to keep coherent).
 */
export function engineRoutes(d: RouteDeps): Route[] {
  return [
    {
      method: 'get',
      pattern: '/points/:user_id',
      name: '/points/{user_id}',
      handler: async (req) => {
        const userId = decodeURIComponent(req.params[0] ?? '');
        if (!USER_ID.test(userId)) return errorJson(400, 'bad_user_id', 'user_id must be 1-128 characters of [A-Za-z0-9._:@-]');
        const r = await d.pool.query<{ points: string; lifetime_earned: string; updated_at: Date; last_partition: number; last_offset: string }>(
          'SELECT points, lifetime_earned, updated_at, last_partition, last_offset FROM balances WHERE user_id = $1',
          [userId],
        );
        const row = r.rows[0];
        if (!row) return errorJson(404, 'unknown_user', `no events seen for user ${userId}`);
        return json(200, {
          user_id: userId,
          points: Number(row.points),
          lifetime_earned: Number(row.lifetime_earned),
          updated_at: row.updated_at.toISOString(),
          as_of: { partition: row.last_partition, offset: Number(row.last_offset) },
        });
      },
    },
    { method: 'get', pattern: '/healthz', name: '/healthz', handler: () => json(200, { status: 'ok' }) },
    {
      method: 'get',
      pattern: '/readyz',
      name: '/readyz',
      handler: () => {
        const r = d.isReady();
        return json(r.ready ? 200 : 503, { ready: r.ready, reasons: r.reasons });
      },
    },
    {
      method: 'get',
      pattern: '/metrics',
      name: '/metrics',
      handler: async () => ({ status: 200, contentType: d.registry.contentType, body: await d.registry.metrics() }),
    },
  ];
}
