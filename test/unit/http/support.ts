import net from 'node:net';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { engineRoutes, type RouteDeps } from '../../../src/http/routes.js';
import { startHttpServer, type HttpServer, type Route } from '../../../src/http/uws-server.js';

export interface Served {
  base: string;
  port: number;
  /** Every (route, status) the server observed, in order. */
  observed: { route: string; status: number }[];
  close: () => void;
}

/** The routes on a real uWS server at 127.0.0.1 on a free port. */
export async function serve(routes: Route[]): Promise<Served> {
  const observed: { route: string; status: number }[] = [];
  const s: HttpServer = await startHttpServer('127.0.0.1', 0, routes, (route, status) =>
    observed.push({ route, status }),
  );
  return { base: `http://127.0.0.1:${s.port}`, port: s.port, observed, close: s.close };
}

export type QueryFn = (sql: string, params: unknown[]) => Promise<{ rows: unknown[] }> | { rows: unknown[] };

/** A pg.Pool stand-in: every query goes to `fn`, and is recorded. */
export function fakePool(fn: QueryFn): { pool: pg.Pool; queries: { sql: string; params: unknown[] }[] } {
  const queries: { sql: string; params: unknown[] }[] = [];
  const pool = {
    // Plain (sql, params) or a query config ({ text, values }), as node-postgres takes both.
    query: async (q: string | { text: string; values?: unknown[] }, params: unknown[] = []) => {
      const sql = typeof q === 'string' ? q : q.text;
      const values = typeof q === 'string' ? params : (q.values ?? []);
      queries.push({ sql, params: values });
      return fn(sql, values);
    },
  } as unknown as pg.Pool;
  return { pool, queries };
}

export function routesWith(partial: Partial<RouteDeps> & { pool: pg.Pool }): Route[] {
  return engineRoutes({ registry: new Registry(), isReady: () => ({ ready: true, reasons: [] }), ...partial });
}

/** Sends raw bytes on a fresh connection; resolves with everything received until the server closes it or `waitMs` passes. */
export function rawExchange(
  port: number,
  data: string | Buffer,
  waitMs = 1000,
): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let settled = false;
    const finish = (closedByServer: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closedByServer });
    };
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.write(data);
    const timer = setTimeout(() => finish(false), waitMs);
  });
}
