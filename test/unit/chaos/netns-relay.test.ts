import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { releaseAt } from '../../chaos/netns/delay-line.js';
import { startRelay, type Delay } from '../../chaos/netns/relay.js';

describe('delay line', () => {
  it('holds each chunk the delay +/- jitter, never ahead of the one before', () => {
    expect(releaseAt(0, 1000, 200, 50, () => 0.5)).toBe(1200);
    expect(releaseAt(0, 1000, 200, 50, () => 0)).toBe(1150);
    expect(releaseAt(0, 1000, 200, 50, () => 1)).toBe(1250);
    expect(releaseAt(1300, 1000, 200, 50, () => 0)).toBe(1300);
  });
});

describe('TCP relay', () => {
  const servers: net.Server[] = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));

  const listen = (server: net.Server): Promise<number> =>
    new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));

  async function roundTrip(delay: Delay | null): Promise<{ echoed: string; ms: number }> {
    const echo = net.createServer((s) => s.pipe(s));
    servers.push(echo);
    const target = await listen(echo);
    const relay = await startRelay(
      { listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: target } },
      () => delay,
    );
    servers.push(relay);
    const port = (relay.address() as net.AddressInfo).port;
    const started = Date.now();
    const client = net.connect(port, '127.0.0.1');
    const parts = Array.from({ length: 50 }, (_, i) => `${i},`);
    let echoed = '';
    await new Promise<void>((resolve) => {
      client.on('data', (c: Buffer) => {
        echoed += c.toString();
        if (echoed.length === parts.join('').length) resolve();
      });
      for (const p of parts) client.write(p);
    });
    client.destroy();
    return { echoed, ms: Date.now() - started };
  }

  it('copies bytes both ways, in order', async () => {
    const r = await roundTrip(null);
    expect(r.echoed).toBe(Array.from({ length: 50 }, (_, i) => `${i},`).join(''));
  });

  it('holds client-to-target bytes for the delay, keeping their order', async () => {
    const r = await roundTrip({ delayMs: 150, jitterMs: 50 });
    expect(r.echoed).toBe(Array.from({ length: 50 }, (_, i) => `${i},`).join(''));
    expect(r.ms).toBeGreaterThanOrEqual(100);
  });
});
