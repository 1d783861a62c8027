import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DelayLine, releaseAt } from '../../chaos/netns/delay-line.js';
import { emptyStats, startRelay, turnCounter, type Delay } from '../../chaos/netns/relay.js';

describe('delay line', () => {
  it('holds each chunk the delay +/- jitter, never ahead of the one before', () => {
    expect(releaseAt(0, 1000, 200, 50, () => 0.5)).toBe(1200);
    expect(releaseAt(0, 1000, 200, 50, () => 0)).toBe(1150);
    expect(releaseAt(0, 1000, 200, 50, () => 1)).toBe(1250);
    expect(releaseAt(1300, 1000, 200, 50, () => 0)).toBe(1300);
  });

  it('hands chunks out in arrival order only, however their jitter falls', () => {
    const line = new DelayLine<number>();
    const jitters = [1, 0, 0.5, 0, 1, 0];
    jitters.forEach((j, i) => line.push(i, 1000 + i, 200, 50, () => j));
    expect(line.nextAt()).toBe(1250);
    expect(line.takeDue(1249)).toEqual([]);
    expect(line.takeDue(1250)).toEqual([0, 1, 2, 3]); // 1 and 3 were due at 1151 and 1153, but wait for 0
    expect(line.takeDue(10_000)).toEqual([4, 5]);
    expect(line.size).toBe(0);
    expect(line.nextAt()).toBeUndefined();
  });
});

/** A Postgres ReadyForQuery message with transaction status `s` ('I', 'T' or 'E'). */
const ready = (s: string): Buffer => Buffer.from([0x5a, 0, 0, 0, 5, s.charCodeAt(0)]);

describe('round trips on a relay route', () => {
  it('counts a turn each time the client speaks after an answer, and which were inside a transaction', () => {
    const stats = emptyStats();
    const c = turnCounter(stats);
    c.up(Buffer.from('startup')); // turn 1
    c.down(ready('I'));
    c.up(Buffer.from('BEGIN')); // turn 2, idle
    c.up(Buffer.from('...more of the same send')); // same turn
    c.down(Buffer.concat([Buffer.from('C...'), ready('T')]));
    c.up(Buffer.concat([Buffer.from([0x51, 0, 0, 0, 30]), Buffer.from('COPY t FROM STDIN')])); // turn 3, in a transaction
    c.down(Buffer.from('G copy-in response')); // no ReadyForQuery: still in the transaction
    c.up(Buffer.from('copy data, CopyDone')); // turn 4, in a transaction
    // An answer whose ReadyForQuery arrives split over two chunks.
    c.down(Buffer.concat([Buffer.from('C...'), ready('T').subarray(0, 3)]));
    c.down(ready('T').subarray(3));
    c.up(Buffer.from('COMMIT')); // turn 5, in a transaction
    c.down(ready('I'));
    c.up(Buffer.from('SELECT')); // turn 6, idle
    c.down(ready('I'));
    expect(stats).toMatchObject({
      connections: 1,
      turns: 6,
      turnsInTransaction: 3,
      transactions: 1,
      copyTransactions: 1,
      copyTransactionTurns: 4, // BEGIN, COPY, its data, COMMIT
    });
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
