import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRules } from '../../../src/rules/index.js';
import { HISTORY_MAX_LIMIT, MAX_EVENT_BODY_BYTES } from '../../../src/http/routes.js';
import { fakePool, rawExchange, routesWith, serve, type Served } from './support.js';

const TOKEN = 'a-token-of-at-least-16-chars';
/** points, lifetime_earned, updated_at (formatted by Postgres), last_partition, last_offset. */
const balanceRow = ['120', '15000', '2026-11-24T18:00:00.000Z', 3, '41'];
const ledgerRow = (offset: number) => ({
  event_id: `e-${offset}`,
  event_type: 'purchase',
  points: '10',
  balance_after: String(offset * 10),
  status: 'applied',
  reason: null,
  event_time: new Date('2026-11-24T10:00:00Z'),
  partition: 3,
  kafka_offset: String(offset),
  rules_version: 'abc123',
});
const purchase = { user_id: 'alice', event_type: 'purchase', amount: 12.5, timestamp: '2026-11-28T10:00:00+02:00' };
const tiersYaml =
  'version: 1\ntiers:\n  - { name: base, min_lifetime_points: 100, multiplier: 1 }\n  - { name: gold, min_lifetime_points: 10000, multiplier: 2 }\nmax_amount: 500\n';

let server: Served | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/** A ledger of offsets 0..n-1 for 'alice' only; honours the LIMIT and before parameters the way Postgres would. */
function ledgerPool(n: number) {
  return fakePool((sql, params) => {
    const known = (id: unknown): boolean => id === 'alice' || id === 'quiet';
    // The balance reader asks for many users at once, one array row each (rowMode 'array').
    if (sql.includes('FROM balances') && Array.isArray(params[0]))
      return { rows: params[0].filter(known).map((id) => [id, ...balanceRow]) };
    if (sql.includes('FROM balances')) return { rows: known(params[0]) ? [{ one: 1 }] : [] };
    if (params[0] !== 'alice') return { rows: [] };
    const before = params.length > 2 ? Number(params[2]) : Infinity;
    const rows = [];
    for (let o = n - 1; o >= 0 && rows.length < Number(params[1]); o--) if (o < before) rows.push(ledgerRow(o));
    return { rows };
  });
}

const post = (base: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(`${base}/events`, { method: 'POST', headers, body });

describe('GET /points/{user_id}', () => {
  it('returns the balance with the tier its lifetime points reach', async () => {
    const { pool, queries } = ledgerPool(0);
    server = await serve(routesWith({ pool, tierOf: parseRules(tiersYaml).tierOf }));
    const res = await fetch(`${server.base}/points/alice`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      user_id: 'alice',
      points: 120,
      lifetime_earned: 15000,
      tier: 'gold',
      updated_at: '2026-11-24T18:00:00.000Z',
      as_of: { partition: 3, offset: 41 },
    });
    expect(queries[0]!.params).toEqual([['alice']]);
  });

  it('tier is null when the server knows no tiers', async () => {
    server = await serve(routesWith({ pool: ledgerPool(0).pool }));
    expect(((await (await fetch(`${server.base}/points/alice`)).json()) as { tier: unknown }).tier).toBeNull();
  });

  it('answers 400 for malformed ids (including broken percent-encoding) without asking the database, 404 for unknown users', async () => {
    const { pool, queries } = ledgerPool(0);
    server = await serve(routesWith({ pool }));
    for (const id of ['bad%20id', '%E0%A4%A', 'x'.repeat(129), '%C3%A9']) {
      const res = await fetch(`${server.base}/points/${id}`);
      expect(res.status, id).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'bad_user_id', detail: expect.any(String) });
    }
    expect(queries).toHaveLength(0);
    const res = await fetch(`${server.base}/points/bob`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'unknown_user' });
  });

  it('answers 503 JSON when the database fails', async () => {
    server = await serve(routesWith({ pool: fakePool(() => Promise.reject(new Error('connection refused'))).pool }));
    const res = await fetch(`${server.base}/points/alice`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      error: 'database_unavailable',
      detail: expect.stringContaining('connection refused'),
    });
  });
});

describe('GET /points/{user_id}/history', () => {
  it('walks the whole ledger newest first with keyset pages, next_before null at the end', async () => {
    server = await serve(routesWith({ pool: ledgerPool(7).pool }));
    const seen: number[] = [];
    let url = `${server.base}/points/alice/history?limit=3`;
    const pages: (number | null)[] = [];
    for (;;) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      const page = (await res.json()) as {
        items: {
          offset: number;
          event_id: string;
          points: number;
          balance_after: number;
          reason: null;
          rules_version: string;
        }[];
        next_before: number | null;
      };
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((i) => i.offset));
      pages.push(page.next_before);
      if (page.next_before === null) break;
      url = `${server.base}/points/alice/history?limit=3&before=${page.next_before}`;
    }
    expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0]);
    expect(pages).toEqual([4, 1, null]);
  });

  it('serves every item field the issue asks for, with numbers as numbers', async () => {
    server = await serve(routesWith({ pool: ledgerPool(1).pool }));
    const page = (await (await fetch(`${server.base}/points/alice/history`)).json()) as { items: unknown[] };
    expect(page.items[0]).toEqual({
      event_id: 'e-0',
      event_type: 'purchase',
      points: 10,
      balance_after: 0,
      status: 'applied',
      reason: null,
      event_time: '2026-11-24T10:00:00.000Z',
      partition: 3,
      offset: 0,
      rules_version: 'abc123',
    });
  });

  it('defaults to 50 and passes limit+1 and before to the query', async () => {
    const { pool, queries } = ledgerPool(120);
    server = await serve(routesWith({ pool }));
    const page = (await (await fetch(`${server.base}/points/alice/history`)).json()) as {
      items: unknown[];
      next_before: number;
    };
    expect(page.items).toHaveLength(50);
    expect(page.next_before).toBe(70);
    await fetch(`${server.base}/points/alice/history?limit=${HISTORY_MAX_LIMIT}&before=9007199254740991`);
    expect(queries[1]!.params).toEqual(['alice', HISTORY_MAX_LIMIT + 1, 9007199254740991]);
  });

  it.each([
    ['limit=0', 'bad_limit'],
    ['limit=501', 'bad_limit'],
    ['limit=-1', 'bad_limit'],
    ['limit=abc', 'bad_limit'],
    ['limit=1.5', 'bad_limit'],
    ['limit=', 'bad_limit'],
    ['limit=1&limit=2', 'bad_limit'],
    ['before=-1', 'bad_before'],
    ['before=x', 'bad_before'],
    ['before=9007199254740992', 'bad_before'],
    ['before=1e3', 'bad_before'],
    ['before=', 'bad_before'],
  ])('400 for %s', async (query, error) => {
    const { pool, queries } = ledgerPool(3);
    server = await serve(routesWith({ pool }));
    const res = await fetch(`${server.base}/points/alice/history?${query}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error, detail: expect.any(String) });
    expect(queries).toHaveLength(0);
  });

  it('404 for an unknown user; an empty last page for a known one past its ledger', async () => {
    server = await serve(routesWith({ pool: ledgerPool(3).pool }));
    const unknown = await fetch(`${server.base}/points/bob/history`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'unknown_user' });
    const past = await fetch(`${server.base}/points/alice/history?before=0`);
    expect(past.status).toBe(200);
    expect(await past.json()).toEqual({ user_id: 'alice', items: [], next_before: null });
  });

  it('requires the bearer token when one is configured', async () => {
    server = await serve(routesWith({ pool: ledgerPool(3).pool, apiToken: TOKEN }));
    for (const auth of [undefined, 'Bearer wrong-token-wrong-token', `Basic ${TOKEN}`, TOKEN]) {
      const res = await fetch(`${server.base}/points/alice/history`, { headers: auth ? { authorization: auth } : {} });
      expect(res.status, String(auth)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
    }
    expect(
      (await fetch(`${server.base}/points/alice/history`, { headers: { authorization: `bearer ${TOKEN}` } })).status,
    ).toBe(200);
    // The balance stays public.
    expect((await fetch(`${server.base}/points/alice`)).status).toBe(200);
  });
});

describe('POST /events', () => {
  it('produces the body as is, keyed by user_id, and answers 202 with its event_id', async () => {
    const sent: { key: string; value: Buffer }[] = [];
    server = await serve(
      routesWith({
        pool: ledgerPool(0).pool,
        events: { publish: async (key, value) => void sent.push({ key, value }) },
      }),
    );
    const body = JSON.stringify({ ...purchase, event_id: 'client-1' });
    const res = await post(server.base, body, { 'content-type': 'application/json; charset=UTF-8' });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ event_id: 'client-1' });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.key).toBe('alice');
    expect(sent[0]!.value.toString()).toBe(body);
  });

  it('names an event sent without event_id with a fresh UUID, and produces that name', async () => {
    const sent: { key: string; value: Buffer }[] = [];
    server = await serve(
      routesWith({
        pool: ledgerPool(0).pool,
        events: { publish: async (key, value) => void sent.push({ key, value }) },
      }),
    );
    const ids = new Set<string>();
    for (const body of [purchase, { ...purchase, event_id: null }]) {
      const res = await post(server.base, JSON.stringify(body));
      expect(res.status).toBe(202);
      const { event_id } = (await res.json()) as { event_id: string };
      expect(event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(event_id);
      expect(JSON.parse(sent.at(-1)!.value.toString())).toEqual({ ...purchase, event_id });
    }
    expect(ids.size).toBe(2);
  });

  it.each([
    ['malformed JSON', '{"user_id": "alice"', 'malformed_json'],
    ['empty body', '', 'empty_value'],
    ['an array', '[1]', 'invalid_schema'],
    ['unknown type', JSON.stringify({ ...purchase, event_type: 'gift' }), 'unknown_type'],
    ['bad user id', JSON.stringify({ ...purchase, user_id: 'a b' }), 'invalid_user_id'],
    ['user id not a string', JSON.stringify({ ...purchase, user_id: 7 }), 'invalid_user_id'],
    ['amount at max_amount', JSON.stringify({ ...purchase, amount: 500 }), 'invalid_amount'],
    ['bad timestamp', JSON.stringify({ ...purchase, timestamp: '2026-04-31T00:00:00Z' }), 'invalid_timestamp'],
    ['event_id a number', JSON.stringify({ ...purchase, event_id: 5 }), 'invalid_schema'],
    ['refund without original', JSON.stringify({ ...purchase, event_type: 'refund' }), 'invalid_schema'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'), 'malformed_json'],
  ])('400 invalid_event for %s, nothing produced', async (_name, body, reason) => {
    const sent: string[] = [];
    server = await serve(
      routesWith({
        pool: ledgerPool(0).pool,
        events: { publish: async (k) => void sent.push(k) },
        decodeLimits: () => ({ maxMessageBytes: 65536, maxAmount: parseRules(tiersYaml).maxAmount }),
      }),
    );
    const res = await fetch(`${server.base}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: reason === 'malformed_json' && body.startsWith('{\u00ff') ? Buffer.from(body, 'latin1') : body,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_event', reason, detail: expect.any(String) });
    expect(sent).toEqual([]);
  });

  it('415 unless the content type is JSON in UTF-8', async () => {
    server = await serve(routesWith({ pool: ledgerPool(0).pool, events: { publish: async () => undefined } }));
    for (const ct of [
      undefined,
      'text/plain',
      'application/jsonx',
      'application/json; charset=latin1',
      'multipart/form-data',
    ]) {
      const res = await post(server.base, JSON.stringify(purchase), ct ? { 'content-type': ct } : {});
      // fetch adds text/plain to a string body without a content type.
      expect(res.status, String(ct)).toBe(415);
      expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
    }
  });

  it('413 for a body over 64 KiB, whether announced by content-length or streamed in chunks, and closes the connection', async () => {
    server = await serve(routesWith({ pool: ledgerPool(0).pool, events: { publish: async () => undefined } }));
    const big = JSON.stringify({ ...purchase, category: 'x'.repeat(MAX_EVENT_BODY_BYTES) });
    const res = await post(server.base, big);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'payload_too_large' });

    // Announces 10 MiB and sends only the headers: answered at once, connection closed, nothing else read.
    const announced = await rawExchange(
      server.port,
      `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${10 << 20}\r\n\r\n`,
    );
    expect(announced.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(announced.closedByServer).toBe(true);

    // Chunked, no length announced: 413 once the running total passes the limit.
    const chunk = 'y'.repeat(16 * 1024);
    const chunks = Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
    const streamed = await rawExchange(
      server.port,
      `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`,
    );
    expect(streamed.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(streamed.text).toContain('"payload_too_large"');
    expect(streamed.closedByServer).toBe(true);
    // A body just under the limit is read (and here refused as a 400, not a 413).
    const under = await post(
      server.base,
      JSON.stringify({ ...purchase, category: 'x'.repeat(MAX_EVENT_BODY_BYTES - 200) }),
    );
    expect(under.status).toBe(400);
  });

  it("413 when the body fits the HTTP limit but not the engine's MAX_MESSAGE_BYTES", async () => {
    server = await serve(
      routesWith({
        pool: ledgerPool(0).pool,
        events: { publish: async () => undefined },
        decodeLimits: () => ({ maxMessageBytes: 200, maxAmount: 1e6 }),
      }),
    );
    const res = await post(server.base, JSON.stringify({ ...purchase, sku: 's'.repeat(200) }));
    expect(res.status).toBe(413);
  });

  it('503 with the event_id (to retry with) and Retry-After when Kafka does not acknowledge', async () => {
    server = await serve(
      routesWith({
        pool: ledgerPool(0).pool,
        events: { publish: () => Promise.reject(new Error('Local: Message timed out')) },
      }),
    );
    const res = await post(server.base, JSON.stringify({ ...purchase, event_id: 'e-77' }));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({
      error: 'kafka_unavailable',
      event_id: 'e-77',
      detail: expect.stringContaining('timed out'),
    });
  });

  it('checks the token before the content type and before reading the body', async () => {
    const sent: string[] = [];
    server = await serve(
      routesWith({ pool: ledgerPool(0).pool, apiToken: TOKEN, events: { publish: async (k) => void sent.push(k) } }),
    );
    expect((await post(server.base, JSON.stringify(purchase), { 'content-type': 'text/plain' })).status).toBe(401);
    expect((await post(server.base, JSON.stringify(purchase))).status).toBe(401);
    const noAuthBig = await rawExchange(
      server.port,
      `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${10 << 20}\r\n\r\n`,
    );
    expect(noAuthBig.text).toMatch(/^HTTP\/1\.1 401 /);
    expect(noAuthBig.closedByServer).toBe(true); // the unread 10 MiB are not parsed
    // No body to skip: the connection stays usable for the next request.
    const noBody = await rawExchange(
      server.port,
      'POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
      300,
    );
    expect(noBody.text).toMatch(/^HTTP\/1\.1 401 [\s\S]*HTTP\/1\.1 200 /);
    expect(noBody.closedByServer).toBe(false);
    const ok = await post(server.base, JSON.stringify(purchase), {
      'content-type': 'application/json',
      authorization: `Bearer ${TOKEN}`,
    });
    expect(ok.status).toBe(202);
    expect(sent).toEqual(['alice']);
  });
});

describe('errors and aborted requests', () => {
  it('405 with Allow for a known path and the wrong method, 404 JSON for unknown paths', async () => {
    server = await serve(routesWith({ pool: ledgerPool(0).pool }));
    const wrong = await fetch(`${server.base}/events`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(await wrong.json()).toMatchObject({ error: 'method_not_allowed', detail: expect.any(String) });
    const del = await fetch(`${server.base}/points/alice`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET');
    const missing = await fetch(`${server.base}/nope/nope`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/json');
    expect(await missing.json()).toEqual({ error: 'not_found', detail: 'no such route' });
  });

  it('a client that leaves mid-body or before a slow answer gets nothing written, and the server keeps serving', async () => {
    let release: () => void = () => undefined;
    const published = new Promise<void>((r) => (release = r));
    let publishCalls = 0;
    server = await serve(
      routesWith({ pool: ledgerPool(0).pool, events: { publish: () => (publishCalls++, published) } }),
    );

    // 1. A partial body, then the socket is destroyed.
    const partial = net.connect(server.port, '127.0.0.1');
    await new Promise<void>((r) => partial.once('connect', () => r()));
    partial.write(
      'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"user_id":',
    );
    await new Promise((r) => setTimeout(r, 50));
    partial.destroy();

    // 2. A whole body whose publish is still pending when the client leaves; the answer comes after.
    const slow = net.connect(server.port, '127.0.0.1');
    await new Promise<void>((r) => slow.once('connect', () => r()));
    const body = JSON.stringify(purchase);
    slow.write(
      `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    const deadline = Date.now() + 2000;
    while (publishCalls === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(publishCalls).toBe(1);
    slow.destroy();
    await new Promise((r) => setTimeout(r, 50));
    release(); // the handler now answers a response that was aborted: it must not be written (uWS would throw)
    await new Promise((r) => setTimeout(r, 50));

    expect(server.observed.filter((o) => o.route === '/events').map((o) => o.status)).toEqual([499, 499]);
    expect((await fetch(`${server.base}/points/alice`)).status).toBe(200);
  });
});
