import net from 'node:net';
import { releaseAt } from './delay-line.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface Route {
  listen: Endpoint;
  target: Endpoint;
}

export interface Delay {
  delayMs: number;
  jitterMs: number;
}

/**
 * A plain TCP relay: every accepted connection gets its own connection to the target and bytes
 * are copied both ways. Nothing is buffered beyond the sockets' own buffers (a stalled side
 * pauses the other), so when the link under it is cut the engine's connection stalls the way a
 * partitioned TCP connection does, instead of closing cleanly. `delay()` is read per chunk: when
 * it returns a delay, chunks flowing from the client to the target are held that long (in order).
 */
export function startRelay(route: Route, delay: () => Delay | null = () => null): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: route.target.host, port: route.target.port, allowHalfOpen: true });
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    copyDelayed(client, upstream, delay);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(route.listen.port, route.listen.host, () => resolve(server));
  });
}

/** Copies `from` into `to`, holding each chunk for the current delay, keeping order and backpressure. */
function copyDelayed(from: net.Socket, to: net.Socket, delay: () => Delay | null): void {
  let lastRelease = 0;
  let held = 0;
  let ended = false;
  const endIfDone = (): void => {
    if (ended && held === 0) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    const d = delay();
    const now = Date.now();
    if (d === null && held === 0) {
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      return;
    }
    lastRelease = releaseAt(lastRelease, now, d?.delayMs ?? 0, d?.jitterMs ?? 0, Math.random);
    held++;
    setTimeout(() => {
      held--;
      if (!to.destroyed) to.write(chunk);
      endIfDone();
    }, lastRelease - now);
  });
  from.on('end', () => {
    ended = true;
    endIfDone();
  });
}
