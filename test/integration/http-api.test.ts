import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HistoryItem as Item } from '../../src/store/history.js';
import { ROOT_DIR } from '../../tools/stack/paths.js';
import { waitFor } from './support/stack.js';
import { engineSuite } from './support/engine-suite.js';

const TOKEN = 'http-api-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
// No weekend rule, and tiers with multiplier 1, so points are floor(amount) whatever the day.
const RULES = `version: 1
tiers:
  - { name: bronze, min_lifetime_points: 0, multiplier: 1 }
  - { name: silver, min_lifetime_points: 100, multiplier: 1 }
`;

interface Page {
  user_id: string;
  items: Item[];
  next_before: number | null;
}

describe('HTTP API against a running engine', () => {
  let dir: string;
  const suite = engineSuite({
    partitions: 3,
    env: () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'http-api-'));
      writeFileSync(path.join(dir, 'rules.yaml'), RULES);
      return { API_TOKEN: TOKEN, RULES_FILE: path.join(dir, 'rules.yaml'), FLUSH_MAX_AGE_MS: '50' };
    },
  });

  const postEvent = (body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${suite.base}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('events posted to the API are applied once each (a retried event_id is a duplicate) and read back as balance, tier and paged history', async () => {
    const ts = '2026-11-25T10:00:00+01:00'; // a Wednesday
    const sent = [
      { event_id: 'p1', user_id: 'alice', event_type: 'purchase', amount: 60.9, timestamp: ts },
      { user_id: 'alice', event_type: 'purchase', amount: 50, timestamp: ts }, // named by the server
      { event_id: 'p1', user_id: 'alice', event_type: 'purchase', amount: 60.9, timestamp: ts }, // a client's retry
      { event_id: 'r1', user_id: 'alice', event_type: 'redeem', amount: 30, timestamp: ts },
      { event_id: 'r2', user_id: 'alice', event_type: 'redeem', amount: 1000, timestamp: ts }, // more than the balance: rejected
      {
        event_id: 'a1',
        user_id: 'alice',
        event_type: 'adjust',
        amount: -5,
        reason: 'goodwill correction',
        timestamp: ts,
      },
      { event_id: 'b1', user_id: 'bob', event_type: 'purchase', amount: 7, timestamp: ts },
    ];
    const ids: string[] = [];
    for (const e of sent) {
      const res = await postEvent(e);
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { event_id: string }).event_id);
    }
    expect(ids[1]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids.filter((id, i) => sent[i]!.event_id !== undefined)).toEqual(
      sent.filter((e) => e.event_id !== undefined).map((e) => e.event_id),
    );

    // 60 + 50 (the retry of p1 counts nothing) - 30 (r2 rejected) - 5 = 75; lifetime 110 -> silver.
    const balance = await waitFor(
      'alice fully applied',
      async () => {
        const res = await fetch(`${suite.base}/points/alice`);
        if (res.status !== 200) return undefined;
        const b = (await res.json()) as { points: number; lifetime_earned: number; tier: string | null };
        return b.points === 75 ? b : undefined;
      },
      30_000,
    );
    expect(balance).toMatchObject({
      user_id: 'alice',
      points: 75,
      lifetime_earned: 110,
      tier: 'silver',
      as_of: { partition: expect.any(Number), offset: expect.any(Number) },
    });
    expect(((await (await fetch(`${suite.base}/points/bob`)).json()) as { tier: string }).tier).toBe('bronze');

    // Keyed by user id: every one of alice's events in one partition, and no message dead-lettered.
    const parts = await suite.db.pool.query('SELECT DISTINCT partition FROM point_transactions WHERE user_id = $1', [
      'alice',
    ]);
    expect(parts.rows).toHaveLength(1);
    expect((await suite.db.pool.query('SELECT count(*)::int AS n FROM dead_letters')).rows[0].n).toBe(0);

    // History in pages of 2, newest first, until next_before is null.
    const items: Item[] = [];
    let url = `${suite.base}/points/alice/history?limit=2`;
    let pages = 0;
    for (;;) {
      const res = await fetch(url, { headers: auth });
      expect(res.status).toBe(200);
      const page = (await res.json()) as Page;
      expect(page.items.length).toBeLessThanOrEqual(2);
      items.push(...page.items);
      pages++;
      if (page.next_before === null) break;
      expect(page.next_before).toBe(page.items.at(-1)!.offset);
      url = `${suite.base}/points/alice/history?limit=2&before=${page.next_before}`;
    }
    expect(pages).toBe(3);
    expect(items.map((i) => i.event_id)).toEqual([...ids.slice(0, 6)].reverse());
    expect(items.map((i) => i.status)).toEqual(['applied', 'rejected', 'applied', 'duplicate', 'applied', 'applied']);
    expect(items.map((i) => i.points)).toEqual([-5, 0, -30, 0, 50, 60]);
    expect(items[0]!.balance_after).toBe(75);
    expect(items[1]!.reason).toBe('insufficient_balance');
    for (let i = 1; i < items.length; i++) expect(items[i]!.offset).toBeLessThan(items[i - 1]!.offset);
    expect(items[0]).toMatchObject({
      event_type: 'adjust',
      event_time: '2026-11-25T09:00:00.000Z',
      rules_version: expect.stringMatching(/^[0-9a-f]{12}$/),
    });

    // The same rows as the ledger holds.
    const ledger = await suite.db.pool.query(
      'SELECT event_id, kafka_offset::int AS o FROM point_transactions WHERE user_id = $1 ORDER BY kafka_offset DESC',
      ['alice'],
    );
    expect(ledger.rows.map((r: { event_id: string; o: number }) => [r.event_id, r.o])).toEqual(
      items.map((i) => [i.event_id, i.offset]),
    );
  });

  it('requires the token for POST /events and history, not for the balance', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-the-token-at-all' }] as Record<string, string>[]) {
      const posted = await postEvent(
        { user_id: 'carol', event_type: 'purchase', amount: 1, timestamp: '2026-11-25T10:00:00Z' },
        headers,
      );
      expect(posted.status).toBe(401);
      expect(await posted.json()).toMatchObject({ error: 'unauthorized', detail: expect.any(String) });
      expect((await fetch(`${suite.base}/points/alice/history`, { headers })).status).toBe(401);
    }
    expect((await fetch(`${suite.base}/points/alice`)).status).toBe(200);
  });

  it('answers every error as JSON {error, detail}: 400, 404, 405, 413, 415', async () => {
    const cases: [Promise<Response>, number, string][] = [
      [fetch(`${suite.base}/points/bad%20id`), 400, 'bad_user_id'],
      [fetch(`${suite.base}/points/alice/history?limit=501`, { headers: auth }), 400, 'bad_limit'],
      [fetch(`${suite.base}/points/alice/history?before=-3`, { headers: auth }), 400, 'bad_before'],
      [
        postEvent({ user_id: 'alice', event_type: 'purchase', amount: -1, timestamp: '2026-11-25T10:00:00Z' }),
        400,
        'invalid_event',
      ],
      [fetch(`${suite.base}/points/nobody-here`), 404, 'unknown_user'],
      [fetch(`${suite.base}/points/nobody-here/history`, { headers: auth }), 404, 'unknown_user'],
      [fetch(`${suite.base}/no/such/route`), 404, 'not_found'],
      [fetch(`${suite.base}/events`), 405, 'method_not_allowed'],
      [fetch(`${suite.base}/points/alice`, { method: 'PUT', body: '{}' }), 405, 'method_not_allowed'],
      [
        fetch(`${suite.base}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth },
          body: `{"x":"${'y'.repeat(70_000)}"}`,
        }),
        413,
        'payload_too_large',
      ],
      [
        fetch(`${suite.base}/events`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain', ...auth },
          body: '{}',
        }),
        415,
        'unsupported_media_type',
      ],
    ];
    for (const [pending, status, error] of cases) {
      const res = await pending;
      expect(res.status, error).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/json');
      const body = (await res.json()) as { error: string; detail: unknown };
      expect(body.error).toBe(error);
      expect(typeof body.detail).toBe('string');
    }
  });

  it('serves the OpenAPI document kept in the repository', async () => {
    const res = await fetch(`${suite.base}/openapi.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(readFileSync(path.join(ROOT_DIR, 'src/http/openapi.json'), 'utf8')));
  });

  it('survives clients that leave mid-request, and keeps serving', async () => {
    for (let i = 0; i < 20; i++) {
      const sock = net.connect(suite.engine.port(), '127.0.0.1');
      await new Promise<void>((r, j) => sock.once('connect', () => r()).once('error', j));
      sock.write(
        `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 400\r\n\r\n{"user_id":"ali`,
      );
      if (i % 2 === 0) await new Promise((r) => setTimeout(r, 5));
      sock.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(suite.engine.proc.exitCode).toBeNull();
    expect((await fetch(`${suite.base}/healthz`)).status).toBe(200);
    expect((await fetch(`${suite.base}/points/alice`)).status).toBe(200);
    const metrics = await (await fetch(`${suite.base}/metrics`)).text();
    expect(metrics).toMatch(/loyalty_http_request_duration_seconds_count\{route="\/events",status="499"\} 20/);
  });
});
