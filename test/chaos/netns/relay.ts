import net from 'node:net';
import { DelayLine } from './delay-line.js';

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
 * What crossed a relay route: client turns (the client speaks again after the target answered:
 * one round trip over the link each) and, for a Postgres route, which of them were inside a
 * transaction, read from the ReadyForQuery status that ends each answer.
 */
export interface RelayStats {
  connections: number;
  /** Client sends that follow an answer (or open the connection): round trips. */
  turns: number;
  /** Of those, turns sent while the last ReadyForQuery said "in a transaction" (T) or "failed" (E). */
  turnsInTransaction: number;
  /** Transactions begun: a ReadyForQuery status going from idle (I) to in a transaction (T). */
  transactions: number;
  /** Transactions ended that sent a COPY (the engine's flushes), and their turns, the BEGIN's included. */
  copyTransactions: number;
  copyTransactionTurns: number;
  bytesUp: number;
  bytesDown: number;
}

export const emptyStats = (): RelayStats => ({
  connections: 0,
  turns: 0,
  turnsInTransaction: 0,
  transactions: 0,
  copyTransactions: 0,
  copyTransactionTurns: 0,
  bytesUp: 0,
  bytesDown: 0,
});

/**
 * Counts one connection's turns into `stats`. `up` is each client->target chunk, `down` each
 * target->client chunk. A Postgres answer ends with ReadyForQuery ('Z', length 5, status byte):
 * the last 6 bytes the target sent say whether the client is inside a transaction.
 */
export function turnCounter(stats: RelayStats): { up: (chunk: Buffer) => void; down: (chunk: Buffer) => void } {
  let answered = true; // the first client bytes of a connection are a turn too
  let tail = Buffer.alloc(0);
  let status = 'I';
  let txTurns = 0; // turns of the transaction under way, from the one that sent BEGIN
  let txCopy = false;
  stats.connections++;
  return {
    up: (chunk) => {
      stats.bytesUp += chunk.length;
      // A simple query ('Q', length, text) that starts a COPY.
      if (chunk.length >= 9 && chunk[0] === 0x51 && chunk.toString('latin1', 5, 9).toUpperCase() === 'COPY')
        txCopy = true;
      if (!answered) return;
      answered = false;
      stats.turns++;
      if (status === 'T' || status === 'E') stats.turnsInTransaction++;
      txTurns++;
    },
    down: (chunk) => {
      stats.bytesDown += chunk.length;
      answered = true;
      tail = Buffer.concat([tail, chunk.subarray(Math.max(0, chunk.length - 6))]).subarray(-6);
      if (tail.length === 6 && tail[0] === 0x5a && tail.readInt32BE(1) === 5) {
        const s = String.fromCharCode(tail[5]!);
        if (status === 'I' && s === 'T') stats.transactions++;
        if (s === 'I') {
          if (status !== 'I' && txCopy) {
            stats.copyTransactions++;
            stats.copyTransactionTurns += txTurns;
          }
          txTurns = 0;
          txCopy = false;
        }
        status = s;
      }
    },
  };
}

/**
 * A plain TCP relay: every accepted connection gets its own connection to the target and bytes
 * are copied both ways. Nothing is buffered beyond the sockets' own buffers (a stalled side
 * pauses the other), so when the link under it is cut the engine's connection stalls the way a
 * partitioned TCP connection does, instead of closing cleanly. `delay()` is read per chunk: when
 * it returns a delay, chunks flowing from the client to the target are held that long (in order).
 * `stats`, when given, counts the route's round trips (see turnCounter).
 */
export function startRelay(
  route: Route,
  delay: () => Delay | null = () => null,
  stats?: RelayStats,
): Promise<net.Server> {
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
    if (stats !== undefined) {
      const count = turnCounter(stats);
      client.on('data', count.up);
      upstream.on('data', count.down);
    }
    copyDelayed(client, upstream, delay);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(route.listen.port, route.listen.host, () => resolve(server));
  });
}
/** Copies `from` into `to`, holding each chunk for the current delay, keeping order (one DelayLine, one timer). */
function copyDelayed(from: net.Socket, to: net.Socket, delay: () => Delay | null): void {
  const line = new DelayLine<Buffer>();
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const endIfDone = (): void => {
    if (ended && line.size === 0 && timer === undefined) to.end();
  };
  const release = (): void => {
    timer = undefined;
    for (const chunk of line.takeDue(Date.now())) if (!to.destroyed) to.write(chunk);
    schedule();
    endIfDone();
  };
  const schedule = (): void => {
    const at = line.nextAt();
    if (at !== undefined && timer === undefined) timer = setTimeout(release, Math.max(0, at - Date.now()));
  };
  to.once('close', () => clearTimeout(timer));
  from.on('data', (chunk: Buffer) => {
    const d = delay();
    if (d === null && line.size === 0) {
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      return;
    }
    line.push(chunk, Date.now(), d?.delayMs ?? 0, d?.jitterMs ?? 0, Math.random);
    schedule();
  });
  from.on('end', () => {
    ended = true;
    endIfDone();
  });
}
