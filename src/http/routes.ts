import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { decodeEvent, type DecodeLimits } from '../events/decode.js';
import { USER_ID, USER_ID_RULE } from '../events/event.js';
import { BalanceReader } from '../store/balance-reader.js';
import { readHistory } from '../store/history.js';
import { parseLotCursor, readLotsPage } from '../lifecycle/lot-sql.js';
import openapi from './openapi.json' with { type: 'json' };
import { errorJson, json, type Request, type Response, type Route } from './uws-server.js';
import { errorText } from '../errors.js';

/** POST /events reads at most this much; a larger body is answered 413 without being buffered. */
export const MAX_EVENT_BODY_BYTES = 64 * 1024;
export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 500;

/** Where POST /events goes: the events topic, keyed by user id. */
export interface EventSink {
  /** Resolves once the broker has acknowledged the message (acks=all); rejects when Kafka cannot take it. */
  publish: (key: string, value: Buffer) => Promise<void>;
}

export interface RouteDeps {
  pool: pg.Pool;
  registry: Registry;
  isReady: () => { ready: boolean; reasons: string[] };
  /** Tier name for a user's lifetime earned points under the rules in force; absent: `tier` is null. */
  tierOf?: (lifetimeEarned: number) => string | null;
  /** Absent: POST /events answers 503. */
  events?: EventSink;
  /** The engine's decoder limits, so an accepted event is never dead-lettered for its shape or size. */
  decodeLimits?: () => DecodeLimits;
  /** When set, POST /events and GET /points/{user_id}/history require `Authorization: Bearer <apiToken>`. */
  apiToken?: string;
  /** Balance queries in flight at once (default 1): fewer, larger queries serve more requests when Postgres is short of cores. */
  readConcurrency?: number;
  /** True while the rules in force have a `lifecycle:` block (balances then show pending points and the next expiry); absent: never. */
  lifecycle?: () => boolean;
}

const OPENAPI_BODY = JSON.stringify(openapi);
const DEFAULT_LIMITS: DecodeLimits = { maxMessageBytes: 64 * 1024, maxAmount: 1_000_000 };
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The path parameter, percent-decoded; null when it is not a valid user id (or not valid percent-encoding). */
function userIdParam(req: Request): string | null {
  let id: string;
  try {
    id = decodeURIComponent(req.params[0] ?? '');
  } catch {
    return null;
  }
  return USER_ID.test(id) ? id : null;
}

/** Postgres did not answer: 503, so clients and probes can tell it from a bug. */
const databaseUnavailable = (e: unknown): Response =>
  errorJson(503, 'database_unavailable', `the database did not answer (${errorText(e, 200)})`, {
    headers: { 'retry-after': '1' },
  });

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** A check of `Authorization: Bearer <token>` in constant time; undefined when there is no token to check. */
function bearerCheck(token: string | undefined): (req: Request) => Response | undefined {
  if (token === undefined || token === '') return () => undefined;
  const want = digest(token);
  return (req) => {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.header('authorization'));
    if (m !== null && timingSafeEqual(digest(m[1]!), want)) return undefined;
    return errorJson(401, 'unauthorized', m === null ? 'send Authorization: Bearer <token>' : 'wrong token', {
      headers: { 'www-authenticate': 'Bearer' },
    });
  };
}

/** `application/json`, optionally with `charset=utf-8`; anything else is 415. */
function jsonContentType(req: Request): Response | undefined {
  const [type, ...params] = req.header('content-type').split(';');
  const ok =
    type!.trim().toLowerCase() === 'application/json' &&
    params.every((p) => {
      const [k, v] = p.split('=');
      return k?.trim().toLowerCase() !== 'charset' || /^"?utf-8"?$/i.test(v?.trim() ?? '');
    });
  return ok ? undefined : errorJson(415, 'unsupported_media_type', 'send content-type: application/json (UTF-8)');
}

type Query = { ok: true; limit: number; before: number | null } | { ok: false; res: Response };

const badLimit = (): { ok: false; res: Response } => ({
  ok: false,
  res: errorJson(400, 'bad_limit', `limit must be one whole number from 1 to ${HISTORY_MAX_LIMIT}`),
});

/** `limit` (as history's) and `after` (a cursor given by next_after) of GET /points/{user_id}/lots. */
function lotsQuery(
  raw: string,
): { ok: true; limit: number; after: { expiry: number; available: number } | null } | { ok: false; res: Response } {
  const q = new URLSearchParams(raw);
  const limitText = q.getAll('limit');
  const afterText = q.getAll('after');
  let limit = HISTORY_DEFAULT_LIMIT;
  if (limitText.length > 0) {
    limit = /^[0-9]{1,4}$/.test(limitText[0]!) && limitText.length === 1 ? Number(limitText[0]) : NaN;
    if (!(limit >= 1 && limit <= HISTORY_MAX_LIMIT)) return badLimit();
  }
  if (afterText.length === 0) return { ok: true, limit, after: null };
  const after = afterText.length === 1 ? parseLotCursor(afterText[0]!) : null;
  if (after === null)
    return { ok: false, res: errorJson(400, 'bad_after', 'after must be one cursor, as given by next_after') };
  return { ok: true, limit, after };
}

function historyQuery(raw: string): Query {
  const q = new URLSearchParams(raw);
  const limitText = q.getAll('limit');
  const beforeText = q.getAll('before');
  let limit = HISTORY_DEFAULT_LIMIT;
  if (limitText.length > 0) {
    limit = /^[0-9]{1,4}$/.test(limitText[0]!) && limitText.length === 1 ? Number(limitText[0]) : NaN;
    if (!(limit >= 1 && limit <= HISTORY_MAX_LIMIT)) return badLimit();
  }
  let before: number | null = null;
  if (beforeText.length > 0) {
    before = /^[0-9]{1,16}$/.test(beforeText[0]!) && beforeText.length === 1 ? Number(beforeText[0]) : NaN;
    if (!Number.isSafeInteger(before))
      return {
        ok: false,
        res: errorJson(
          400,
          'bad_before',
          'before must be one Kafka offset (a whole number >= 0), as given by next_before',
        ),
      };
  }
  return { ok: true, limit, before };
}

/**
 * Balances and history come from Postgres, so a read that follows a flush's commit always sees it
 * (no cache to keep coherent; concurrent balance reads share queries, see BalanceReader). POST /events only produces to Kafka: the engine applies it like any event.
 */
export function engineRoutes(d: RouteDeps): Route[] {
  const authorize = bearerCheck(d.apiToken);
  const balances = new BalanceReader(d.pool, d.readConcurrency ?? 1, 256, d.lifecycle);
  return [
    {
      method: 'get',
      pattern: '/points/:user_id',
      name: '/points/{user_id}',
      handler: async (req) => {
        const userId = userIdParam(req);
        if (userId === null) return errorJson(400, 'bad_user_id', USER_ID_RULE);
        let row;
        try {
          row = await balances.read(userId);
        } catch (e) {
          return databaseUnavailable(e);
        }
        if (!row) return errorJson(404, 'unknown_user', `no events seen for user ${userId}`);
        const lifetimeEarned = row.lifetimeEarned;
        const lc = row.lifecycle;
        return json(200, {
          user_id: userId,
          // With lots: spendable at the partition's clock (the balance less what is still pending).
          points: lc === undefined ? row.points : row.points - lc.pendingPoints,
          ...(lc !== undefined && { pending_points: lc.pendingPoints, next_expiry: lc.nextExpiry }),
          lifetime_earned: lifetimeEarned,
          tier: d.tierOf ? d.tierOf(lifetimeEarned) : null,
          updated_at: row.updatedAt,
          as_of: { partition: row.lastPartition, offset: row.lastOffset },
        });
      },
    },
    {
      method: 'get',
      pattern: '/points/:user_id/history',
      name: '/points/{user_id}/history',
      handler: async (req) => {
        const denied = authorize(req);
        if (denied) return denied;
        const userId = userIdParam(req);
        if (userId === null) return errorJson(400, 'bad_user_id', USER_ID_RULE);
        const q = historyQuery(req.query);
        if (!q.ok) return q.res;
        let page;
        try {
          page = await readHistory(d.pool, userId, q.limit, q.before);
        } catch (e) {
          return databaseUnavailable(e);
        }
        if (page.items === null) return errorJson(404, 'unknown_user', `no events seen for user ${userId}`);
        return json(200, { user_id: userId, items: page.items, next_before: page.next });
      },
    },
    {
      method: 'get',
      pattern: '/points/:user_id/lots',
      name: '/points/{user_id}/lots',
      handler: async (req) => {
        const denied = authorize(req);
        if (denied) return denied;
        const userId = userIdParam(req);
        if (userId === null) return errorJson(400, 'bad_user_id', USER_ID_RULE);
        const q = lotsQuery(req.query);
        if (!q.ok) return q.res;
        let page;
        try {
          page = await readLotsPage(d.pool, userId, q.limit, q.after);
          if (page.items.length === 0 && q.after === null && (await balances.read(userId)) === undefined)
            return errorJson(404, 'unknown_user', `no events seen for user ${userId}`);
        } catch (e) {
          return databaseUnavailable(e);
        }
        return json(200, { user_id: userId, items: page.items, next_after: page.next });
      },
    },
    {
      method: 'post',
      pattern: '/events',
      name: '/events',
      maxBodyBytes: MAX_EVENT_BODY_BYTES,
      beforeBody: (req) => authorize(req) ?? jsonContentType(req),
      handler: async (req) => {
        const limits = d.decodeLimits?.() ?? DEFAULT_LIMITS;
        const invalid = (reason: string, detail: string): Response =>
          reason === 'oversized'
            ? errorJson(413, 'payload_too_large', detail)
            : errorJson(400, 'invalid_event', detail, { fields: { reason } });
        if (req.body.length === 0) return invalid('empty_value', 'the body is empty');
        let parsed: unknown;
        try {
          parsed = JSON.parse(utf8.decode(req.body));
        } catch (e) {
          return invalid('malformed_json', errorText(e, 200));
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
          return invalid('invalid_schema', 'not a JSON object');
        const o = parsed as Record<string, unknown>;
        // The client may retry a request whose answer it lost: an id of the client's own makes the retry a
        // duplicate that the engine recognises. Without one, we name the event here and say the name.
        let value = req.body;
        if (o.event_id === undefined || o.event_id === null)
          value = Buffer.from(JSON.stringify({ ...o, event_id: randomUUID() }));
        // The engine's own decoder, on the very bytes that will be produced, with the key they will carry.
        const decoded = decodeEvent(
          value,
          { topic: 'http', partition: 0, offset: 0, key: typeof o.user_id === 'string' ? o.user_id : null },
          limits,
        );
        if (!decoded.ok) return invalid(decoded.reason, decoded.detail);
        const { eventId, userId } = decoded.event;
        if (!d.events)
          return errorJson(503, 'kafka_unavailable', 'this server has no Kafka producer', {
            fields: { event_id: eventId },
          });
        try {
          await d.events.publish(userId, value);
        } catch (e) {
          return errorJson(
            503,
            'kafka_unavailable',
            `not acknowledged by Kafka (${errorText(e, 200)}); retry with the same event_id`,
            {
              headers: { 'retry-after': '1' },
              fields: { event_id: eventId },
            },
          );
        }
        return json(202, { event_id: eventId });
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
    {
      method: 'get',
      pattern: '/openapi.json',
      name: '/openapi.json',
      handler: () => ({ status: 200, contentType: 'application/json', body: OPENAPI_BODY }),
    },
  ];
}
