import { describe, expect, it } from 'vitest';
import openapi from '../../../src/http/openapi.json' with { type: 'json' };
import { consoleRoutes } from '../../../src/http/console-routes.js';
import { createMetrics } from '../../../src/metrics/registry.js';
import { fakePool, routesWith } from './support.js';

type Operation = { responses: Record<string, unknown>; parameters?: unknown[]; security?: unknown[] };
const doc = openapi as unknown as { openapi: string; paths: Record<string, Record<string, Operation>> };
const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** uWS pattern /points/:user_id -> OpenAPI path /points/{user_id}. */
const toOpenApiPath = (pattern: string): string => pattern.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

const pool = fakePool(() => ({ rows: [] })).pool;
const routes = [
  ...routesWith({ pool }),
  ...consoleRoutes({ metrics: createMetrics(), pool, topic: 'events', partitions: () => [] }),
];
const registered = routes.map((r) => `${r.method.toUpperCase()} ${toOpenApiPath(r.pattern)}`).sort();
const documented = Object.entries(doc.paths)
  .flatMap(([path, item]) =>
    Object.keys(item)
      .filter((k) => HTTP_METHODS.has(k))
      .map((m) => `${m.toUpperCase()} ${path}`),
  )
  .sort();

/** Every "$ref" anywhere in the document. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe('openapi.json', () => {
  it('is OpenAPI 3.1', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  it('documents exactly the routes engineRoutes and consoleRoutes register (method and path)', () => {
    expect(registered.length).toBeGreaterThanOrEqual(7);
    expect(documented).toEqual(registered);
  });

  it('documents the statuses each route can answer', () => {
    const codes = (method: string, path: string): string[] => Object.keys(doc.paths[path]![method]!.responses).sort();
    expect(codes('get', '/points/{user_id}')).toEqual(['200', '400', '404', '405', '503']);
    expect(codes('get', '/points/{user_id}/history')).toEqual(['200', '400', '401', '404', '405', '503']);
    expect(codes('post', '/events')).toEqual(['202', '400', '401', '405', '413', '415', '503']);
    for (const [path, item] of Object.entries(doc.paths))
      for (const op of Object.values(item)) expect(Object.keys(op.responses), path).toContain('405');
  });

  it('declares every path parameter, and every $ref resolves', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const name of [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])) {
        for (const op of Object.values(item)) {
          const declared = (op.parameters ?? []).map((p) =>
            (p as { $ref?: string }).$ref
              ? (openapi.components.parameters as Record<string, { name: string }>)[
                  (p as { $ref: string }).$ref.split('/').pop()!
                ]!.name
              : (p as { name: string }).name,
          );
          expect(declared, path).toContain(name);
        }
      }
    }
    const all = refs(openapi);
    expect(all.length).toBeGreaterThan(10);
    for (const ref of all) {
      expect(ref.startsWith('#/'), ref).toBe(true);
      const target = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], openapi);
      expect(target, ref).toBeDefined();
    }
  });
});
