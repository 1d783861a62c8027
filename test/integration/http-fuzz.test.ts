import { readFileSync } from 'node:fs';
import net from 'node:net';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/stack.js';
import { engineSuite } from './support/engine-suite.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261124);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 4000);
const RAW_REQUESTS = Number(process.env.FUZZ_RAW_REQUESTS ?? 400);
const CONCURRENCY = 16;
const TIME_BUDGET_MS = 120_000;
const TOKEN = 'fuzz-token-0123456789abcdef';
const MiB = 1024 * 1024;

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

// Known routes with random twists, and paths from nowhere.
const users = fc.constantFrom(
  'u-1',
  'u-2',
  'u-3',
  'nobody',
  'bad id',
  '%E0%A4',
  '..',
  '',
  'x'.repeat(129),
  'ü',
  'a/b',
  '%2F',
  'u-1%00',
);
const queryValue = fc.oneof(
  fc.integer({ min: -5, max: 1000 }).map(String),
  fc.constantFrom('', 'abc', '1e3', '9007199254740993', '50.5', '%zz'),
  fc.string({ maxLength: 8 }),
);
const query = fc.oneof(
  fc.constant(''),
  fc
    .record({
      limit: fc.option(queryValue),
      before: fc.option(queryValue),
      extra: fc.option(fc.string({ maxLength: 6 })),
    })
    .map(({ limit, before, extra }) =>
      [
        limit !== null && `limit=${encodeURIComponent(limit)}`,
        before !== null && `before=${encodeURIComponent(before)}`,
        extra !== null && `${encodeURIComponent(extra)}=1`,
      ]
        .filter(Boolean)
        .join('&'),
    ),
  fc.string({ maxLength: 30 }).map((s) => encodeURI(s).replace(/#/g, '%23')),
);
const path = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(users, query).map(([u, q]) => `/points/${u}${q ? `?${q}` : ''}`) },
  { weight: 4, arbitrary: fc.tuple(users, query).map(([u, q]) => `/points/${u}/history${q ? `?${q}` : ''}`) },
  { weight: 4, arbitrary: fc.constantFrom('/events', '/events/', '/events?x=1', '/EVENTS', '/events/extra') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '/healthz',
      '/readyz',
      '/metrics',
      '/openapi.json',
      '/',
      '/points',
      '/points/',
      '/points//history',
      '/%',
      '/..%2f..%2fetc/passwd',
    ),
  },
  { weight: 3, arbitrary: fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 6 })
      .map((segs) => `/${segs.map(encodeURIComponent).join('/')}`),
  },
);
// fetch itself refuses CONNECT, TRACE and TRACK.
const method = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('GET', 'POST') },
  { weight: 4, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'get', 'post') },
  {
    weight: 1,
    arbitrary: fc.stringMatching(/^[A-Z]{1,10}$/).filter((m) => !['CONNECT', 'TRACE', 'TRACK'].includes(m)),
  },
);
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  '',
  ';;',
  'application/json;',
);
const authorization = fc.constantFrom(
  `Bearer ${TOKEN}`,
  `bearer ${TOKEN}`,
  'Bearer wrong',
  'Bearer',
  'Basic abc',
  `Bearer ${TOKEN} extra`,
  '',
);
const extraHeaders = fc.dictionary(
  fc.stringMatching(/^x-[a-z0-9-]{1,12}$/),
  fc.stringMatching(/^[ -~]{0,40}$/).map((s) => s.trim()),
  { maxKeys: 4 },
);
const eventField = {
  event_id: fc.option(fc.oneof(fc.string({ maxLength: 300 }), fc.integer(), fc.constant(null)), { nil: undefined }),
  user_id: fc.oneof(fc.constantFrom('u-1', 'u-2', 'u-3'), fc.string({ maxLength: 140 }), fc.integer()),
  event_type: fc.oneof(fc.constantFrom('purchase', 'redeem', 'refund', 'adjust'), fc.string({ maxLength: 10 })),
  amount: fc.oneof(
    fc.integer({ min: -100, max: 2000 }),
    fc.double(),
    fc.constantFrom(1e6, 0, -0, 12.5),
    fc.string({ maxLength: 5 }),
  ),
  timestamp: fc.oneof(
    fc.constantFrom('2026-11-25T10:00:00+01:00', '2026-11-28T10:00:00Z', '2026-04-31T00:00:00Z', 'yesterday'),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  ),
  reason: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
  original_event_id: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
  items: fc.option(
    fc.array(fc.record({ amount: fc.oneof(fc.nat(100), fc.string({ maxLength: 3 })) }), { maxLength: 3 }),
    { nil: undefined },
  ),
};
const body = fc.oneof(
  { weight: 6, arbitrary: fc.record(eventField, { requiredKeys: [] }).map((e) => JSON.stringify(e)) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', '{', '[]', 'null', '{"__proto__":{"x":1}}', '\u0000', '{"user_id":"u-1"}'),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 60_000, max: 80_000 }).map((n) =>
      JSON.stringify({
        user_id: 'u-1',
        event_type: 'purchase',
        amount: 1,
        timestamp: '2026-11-25T10:00:00Z',
        category: 'c'.repeat(n),
      }),
    ),
  },
);
// Well-formed events, so the fuzz also drives the produce path (and creates the users GET finds).
const validPost: fc.Arbitrary<FuzzRequest> = fc
  .record({
    user_id: fc.constantFrom('u-1', 'u-2', 'u-3'),
    event_type: fc.constantFrom('purchase', 'purchase', 'redeem'),
    amount: fc.integer({ min: 0, max: 500 }),
    event_id: fc.option(fc.uuid(), { nil: undefined }),
    timestamp: fc.constant('2026-11-25T10:00:00+01:00'),
    // Now and then past the 64 KiB limit (413).
    category: fc.option(fc.constantFrom('books', 'c'.repeat(70_000)), { nil: undefined, freq: 2 }),
  })
  .map((e) => ({
    method: 'POST',
    path: '/events',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(e),
  }));
const anyRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method,
    path,
    contentType: fc.option(contentType),
    authorization: fc.option(authorization),
    extra: extraHeaders,
    body: fc.option(body),
  })
  .map((r) => {
    const headers: Record<string, string> = { ...r.extra };
    if (r.contentType !== null) headers['content-type'] = r.contentType;
    if (r.authorization !== null) headers.authorization = r.authorization;
    const hasBody = r.body !== null && !['GET', 'HEAD'].includes(r.method.toUpperCase());
    return { method: r.method, path: r.path, headers, ...(hasBody && { body: r.body! }) };
  });
const request = fc.oneof({ weight: 1, arbitrary: validPost }, { weight: 6, arbitrary: anyRequest });
const STANDARD_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);

// Raw bytes: broken request lines, bad lengths, garbage, requests cut short.
const rawRequest = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
  fc
    .tuple(fc.stringMatching(/^[ -~]{0,20}$/), fc.stringMatching(/^[ -~]{0,40}$/))
    .map(([m, p]) => Buffer.from(`${m} ${p} HTTP/1.1\r\nHost: x\r\n\r\n`)),
  fc
    .tuple(fc.integer({ min: -5, max: 200_000 }), fc.string({ maxLength: 100 }))
    .map(([len, b]) =>
      Buffer.from(
        `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: ${len}\r\n\r\n${b}`,
      ),
    ),
  fc
    .string({ maxLength: 100 })
    .map((b) =>
      Buffer.from(
        `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${b}\r\n`,
      ),
    ),
  fc.constantFrom(
    Buffer.from('GET /points/u-1 HTTP/1.0\r\n\r\n'),
    Buffer.from('GET /points/u-1\r\n\r\n'),
    Buffer.from(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
    Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`),
  ),
);

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS');
  return Number(m[1]) * 1024;
}

/** Sends raw bytes, maybe hangs up early; resolves with the first status code seen, if any. */
function rawSend(port: number, data: Buffer, hangUpAfterMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve(m ? Number(m[1]) : null);
    };
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    sock.on('close', done);
    sock.on('error', done);
    sock.on('connect', () => sock.write(data));
    const timer = setTimeout(done, hangUpAfterMs);
  });
}

describe('HTTP fuzz against a running engine (Postgres and Kafka up)', () => {
  const suite = engineSuite({ partitions: 3, env: () => ({ API_TOKEN: TOKEN }) });

  beforeAll(async () => {
    // /readyz is 503 until partitions are assigned: fuzz a ready engine, where no 5xx is acceptable.
    await waitFor('engine ready', async () => (await fetch(`${suite.base}/readyz`)).status === 200, 60_000);
  });

  it(`${REQUESTS} random requests and ${RAW_REQUESTS} raw byte streams: no 5xx, errors are JSON, the process lives and its RSS stays bounded (seed ${SEED})`, async () => {
    const pid = suite.engine.proc.pid!;
    const requests = fc.sample(request, { numRuns: REQUESTS, seed: SEED });
    const raws = fc.sample(rawRequest, { numRuns: RAW_REQUESTS, seed: SEED + 1 });
    const deadline = Date.now() + TIME_BUDGET_MS;
    const failures: { req: FuzzRequest | string; status: number | string; body: string }[] = [];
    const statuses = new Map<number, number>();
    const networkErrors: string[] = [];
    let rssAfterFirstThousand = 0;
    let done = 0;

    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < requests.length && Date.now() < deadline) {
        const req = requests[next++]!;
        let res: Response;
        try {
          res = await fetch(suite.base + req.path, {
            method: req.method,
            headers: req.headers,
            body: req.body,
            signal: AbortSignal.timeout(10_000),
          });
        } catch (e) {
          // A closed connection after a 413 may surface as a network error on a pipelined request; a refused or timed-out one is a failure.
          const msg = e instanceof Error ? `${e.message} ${String((e as { cause?: unknown }).cause ?? '')}` : String(e);
          networkErrors.push(
            `${req.method} ${req.path.slice(0, 40)} body=${req.body?.length ?? '-'}: ${msg.slice(0, 120)}`,
          );
          // uWS closes the connection on a method it does not know, and after a 413 (possibly while fetch is still
          // sending the body): those hang-ups are expected; any other is a failure.
          const expected = !STANDARD_METHODS.has(req.method.toUpperCase()) || (req.body?.length ?? 0) > 65536;
          if (!expected || suite.engine.proc.exitCode !== null) failures.push({ req, status: 'network', body: msg });
          continue;
        }
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500) failures.push({ req, status: res.status, body: text.slice(0, 300) });
        else if (res.status >= 400 && req.method.toUpperCase() !== 'HEAD') {
          // Every error is JSON {error, detail}.
          let ok = res.headers.get('content-type') === 'application/json';
          try {
            const j = JSON.parse(text) as { error?: unknown; detail?: unknown };
            ok &&= typeof j.error === 'string' && typeof j.detail === 'string';
          } catch {
            ok = false;
          }
          if (!ok) failures.push({ req, status: res.status, body: `not an error JSON: ${text.slice(0, 200)}` });
        }
        done++;
        if (done === 1000) rssAfterFirstThousand = rssBytes(pid);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    // Raw streams, some hung up on before the answer.
    let rawDone = 0;
    for (let i = 0; i < raws.length && Date.now() < deadline; i += CONCURRENCY) {
      const statusesSeen = await Promise.all(
        raws.slice(i, i + CONCURRENCY).map((b, j) => rawSend(suite.engine.port(), b, (i + j) % 3 === 0 ? 5 : 500)),
      );
      statusesSeen.forEach((s, j) => {
        if (s !== null) statuses.set(s, (statuses.get(s) ?? 0) + 1);
        if (s !== null && s >= 500)
          failures.push({ req: raws[i + j]!.toString('latin1').slice(0, 200), status: s, body: '' });
      });
      rawDone += statusesSeen.length;
    }
    const rssEnd = rssBytes(pid);
    console.log(
      `fuzz: ${done} requests + ${rawDone} raw streams, statuses ${JSON.stringify([...statuses].sort((a, b) => a[0] - b[0]))}, ${networkErrors.length} hang-ups, RSS ${(rssAfterFirstThousand / MiB).toFixed(0)} -> ${(rssEnd / MiB).toFixed(0)} MiB`,
    );

    expect(failures, `seed ${SEED}`).toEqual([]);
    expect(done).toBeGreaterThanOrEqual(Math.min(REQUESTS, 2000)); // the time budget was not what ended the run
    expect(rawDone).toBe(raws.length);
    // The fuzz reached the interesting answers, not only 404s.
    for (const s of [200, 202, 400, 401, 404, 405, 413, 415])
      expect(statuses.get(s) ?? 0, `status ${s} in ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
    expect(suite.engine.proc.exitCode).toBeNull();
    expect((await fetch(`${suite.base}/healthz`)).status).toBe(200);
    expect((await fetch(`${suite.base}/readyz`)).status).toBe(200);
    expect(rssAfterFirstThousand).toBeGreaterThan(0);
    expect(
      rssEnd - rssAfterFirstThousand,
      `RSS ${Math.round(rssAfterFirstThousand / MiB)} -> ${Math.round(rssEnd / MiB)} MiB`,
    ).toBeLessThan(100 * MiB);
  }, 240_000);
});
