import net from 'node:net';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { engineSuite } from './support/engine-suite.js';

/** Sends raw bytes, returns what came back before the server closed (or the timeout). */
function raw(port: number, payload: string | Buffer, waitMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = '';
    const done = (): void => {
      s.destroy();
      resolve(got);
    };
    s.setTimeout(waitMs, done);
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('close', done);
    s.on('error', done);
    s.write(payload);
  });
}

const rssMiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

describe('hostile HTTP', () => {
  const suite = engineSuite({ partitions: 2 });

  it('answers path traversal and SQL-looking ids with 4xx, and the queries stay parameterised', async () => {
    for (const path of [
      '/points/..%2F..%2Fetc%2Fpasswd',
      '/points/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      "/points/1'%20OR%20'1'%3D'1",
      '/points/x%3BDROP%20TABLE%20balances',
      '/points/%00',
    ]) {
      const r = await fetch(`${suite.base}${path}`);
      expect(r.status, path).toBe(400);
      expect(await r.text()).not.toContain('root:');
    }
    const rawTraversal = await raw(suite.engine.port(), 'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(rawTraversal).not.toContain('root:');
    // Ids made only of allowed characters that look like SQL are just unknown users.
    expect((await fetch(`${suite.base}/points/u--1`)).status).toBe(404);
    const tables = await suite.db.pool.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'balances'");
    expect(tables.rows[0].n).toBe(1);
  });

  it('refuses huge headers without falling over', async () => {
    const reply = await raw(
      suite.engine.port(),
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200_000)}\r\n\r\n`,
    );
    expect(reply.startsWith('HTTP/1.1 200')).toBe(false);
    expect((await fetch(`${suite.base}/healthz`)).status).toBe(200);
  });

  it('keeps serving while slow clients trickle their headers', async () => {
    const slow: net.Socket[] = [];
    for (let i = 0; i < 300; i++) {
      const s = net.connect({ host: '127.0.0.1', port: suite.engine.port() });
      s.on('error', () => undefined);
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      slow.push(s);
    }
    const drip = setInterval(() => slow.forEach((s) => s.writable && s.write('X-Slow: 1\r\n')), 500);
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const t0 = performance.now();
      const r = await fetch(`${suite.base}/healthz`);
      expect(r.status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      clearInterval(drip);
      slow.forEach((s) => s.destroy());
    }
  });

  it('holds 10,000 concurrent connections within a memory bound and still answers', async () => {
    const pid = suite.engine.proc.pid!;
    const before = rssMiB(pid);
    const sockets: net.Socket[] = [];
    const open = (): Promise<void> =>
      new Promise((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: suite.engine.port() }, () => resolve());
        s.on('error', () => resolve());
        sockets.push(s);
      });
    try {
      for (let i = 0; i < 10_000; i += 500) await Promise.all(Array.from({ length: 500 }, open));
      const connected = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
      expect(connected).toBeGreaterThanOrEqual(9_900);
      const r = await fetch(`${suite.base}/healthz`);
      expect(r.status).toBe(200);
      const grown = rssMiB(pid) - before;
      console.log(`[hostile] ${connected} connections held; suite.engine RSS +${grown.toFixed(1)} MiB`);
      expect(grown).toBeLessThan(200);
    } finally {
      sockets.forEach((s) => s.destroy());
    }
    expect(suite.engine.proc.exitCode).toBeNull();
  });
});
