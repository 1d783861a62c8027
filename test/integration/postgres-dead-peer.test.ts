import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { sessionOptions, type DeadPeerLimits } from '../../src/store/session-options.js';
import { freshDatabase, waitFor } from './support/stack.js';

const isRoot = process.getuid?.() === 0;

/** Drops every packet of one loopback connection, both ways (the suite's other network faults use namespaces). */
function cutConnection(clientPort: number, serverPort: number): () => void {
  const rules = [
    ['-p', 'tcp', '-s', '127.0.0.1', '--sport', String(clientPort), '--dport', String(serverPort), '-j', 'DROP'],
    ['-p', 'tcp', '-d', '127.0.0.1', '--dport', String(clientPort), '--sport', String(serverPort), '-j', 'DROP'],
  ];
  for (const r of rules) execFileSync('iptables', ['-I', 'INPUT', '-i', 'lo', ...r]);
  return () => {
    for (const r of rules) execFileSync('iptables', ['-D', 'INPUT', '-i', 'lo', ...r]);
  };
}

/**
 * An engine cut off inside a flush's COPY: its backend waits for data that never comes, holding the partition's
 * offset row. The engine's session settings make Postgres end it (src/store/session-options.ts).
 */
describe.skipIf(!isRoot)('a flush whose engine vanished mid-COPY (needs root for iptables)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase();
    await db.pool.query('CREATE TABLE t (x int)');
  });
  afterAll(async () => db.drop());

  /** Starts a COPY, cuts the connection, and says how long Postgres kept the backend (null: still there at `waitMs`). */
  async function backendLifetime(options: string, waitMs: number): Promise<number | null> {
    const client = new pg.Client({ connectionString: db.url, options });
    client.on('error', () => undefined);
    await client.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await client.query('BEGIN');
    const copy = client.query(copyFrom('COPY t FROM STDIN'));
    copy.on('error', () => undefined);
    copy.write('1\n');
    const socket = (client as unknown as { connection: { stream: { localPort: number; remotePort: number } } })
      .connection.stream;
    await waitFor(
      'the backend inside the COPY',
      async () =>
        (
          await db.pool.query<{ wait_event: string | null }>('SELECT wait_event FROM pg_stat_activity WHERE pid = $1', [
            pid,
          ])
        ).rows[0]?.wait_event === 'ClientRead' || undefined,
      10_000,
      100,
    );
    const heal = cutConnection(socket.localPort, socket.remotePort);
    const cutAt = Date.now();
    try {
      while (Date.now() - cutAt < waitMs) {
        const r = await db.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
        if (r.rowCount === 0) return Date.now() - cutAt;
        await new Promise((r) => setTimeout(r, 250));
      }
      return null;
    } finally {
      heal();
      await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      void client.end().catch(() => undefined);
    }
  }

  // Short limits so the test takes seconds; the engine's own (DEAD_PEER) give about 25 s.
  const quick: DeadPeerLimits = { idleS: 1, intervalS: 1, count: 2 };

  it("Postgres ends the stalled backend within the keepalive's limits, releasing what it holds", async () => {
    const lived = await backendLifetime(sessionOptions(60_000, quick), 10_000);
    expect(lived).not.toBeNull();
    expect(lived!).toBeLessThan(6_000);
  });

  it('without them (the server defaults) the backend is still waiting 8 s after the cut', async () => {
    expect(
      await backendLifetime('-c statement_timeout=2000 -c idle_in_transaction_session_timeout=2000', 8_000),
    ).toBeNull();
  });
});
