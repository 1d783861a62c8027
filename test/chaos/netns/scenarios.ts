import type { EngineProcess } from '../../integration/support/engine-process.js';
import { waitFor } from '../../integration/support/stack.js';
import { freshness, percentile } from './freshness.js';
import type { ChaosRow } from '../chaos-row.js';
import { engineMetric, runNetworkScenario, sleep, waitForPartitions, type NetContext } from './harness.js';
import type { Service } from './addressing.js';
import type { NetworkHost } from './network-host.js';
import { metricSum, scrape } from './exposition.js';
import type { NamespacedEngine } from './namespaced-engine.js';
import type { RelayStats } from './relay.js';

/**
 * Faults only a network makes, on real network namespaces (issue #15). Each engine under test
 * runs in its own namespace and reaches Kafka and Postgres over its own veth links; the second
 * engine, when there is one, runs in the root namespace. Every scenario ends with every balance
 * checked against the independent replay (harness.ts).
 */

const log = (l: string): void => {
  process.stderr.write(`[chaos] ${l}\n`);
};

/** Events consumed but not yet committed by `e` (its loyalty_actor_queue_depth), once at least `min`. */
async function unflushedAtLeast(e: EngineProcess, min: number, timeoutMs: number): Promise<number> {
  return waitFor(
    `${min} unflushed events`,
    async () => {
      const n = (await engineMetric(e, 'loyalty_actor_queue_depth')) ?? 0;
      return n >= min ? n : undefined;
    },
    timeoutMs,
    100,
  );
}

/** Cut from Kafka only while holding unflushed work: the group moves its partitions to the second engine; heal later. */
async function kafkaCut(c: NetContext, healAfterMs: number): Promise<string> {
  const host = c.hosts[0]!;
  // A flushes rarely, so it holds unflushed work when it loses Kafka; it can still reach Postgres.
  const a = await c.startIn(host, {
    FLUSH_MAX_AGE_MS: '20000',
    FLUSH_MAX_EVENTS: '200000',
    MAX_QUEUED_EVENTS: '200000',
  });
  const b = await c.startRoot();
  c.beginLoad();
  if (!(await waitForPartitions(a, 3, 60_000)))
    throw new Error('engine in the namespace never held 3 of the 6 partitions');
  const held = await unflushedAtLeast(a, 2000, 60_000);
  host.cut('kafka');
  log(`kafka cut with ${held} unflushed events in ${host.name}`);
  const cutAt = Date.now();
  const movedIn = (await waitForPartitions(b, 6, 45_000)) ? Date.now() - cutAt : -1;
  if (movedIn < 0)
    throw new Error('the second engine did not take all 6 partitions while the first was cut from Kafka');
  const before = await c.committed();
  await sleep(Math.max(0, healAfterMs - (Date.now() - cutAt)));
  const during = (await c.committed()) - before;
  host.heal('kafka');
  if (during <= 0) throw new Error('nothing was committed while the first engine was cut from Kafka');
  return `cut held ${held} unflushed events; all 6 partitions on the second engine ${(movedIn / 1000).toFixed(1)} s after the cut; healed at ${healAfterMs / 1000} s`;
}

/** A backend of `host`'s engine inside a flush transaction right now, if any. */
async function flushBackend(c: NetContext, host: NetworkHost): Promise<number | undefined> {
  const name = new URL(c.db.url).pathname.slice(1);
  const r = await c.db.pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'loyalty-engine' AND xact_start IS NOT NULL AND client_port = ANY($2::int[])
     AND (state = 'idle in transaction' OR (state = 'active' AND query ~* '^(COPY|UPDATE consumer_offsets|\\s*INSERT INTO balances|INSERT INTO purchase_refunds)'))`,
    [name, host.postgresClientPorts()],
  );
  return r.rows[0]?.pid;
}

async function stillInTransaction(c: NetContext, pid: number): Promise<string | undefined> {
  const r = await c.db.pool.query<{ state: string }>(
    `SELECT state FROM pg_stat_activity WHERE pid = $1 AND xact_start IS NOT NULL`,
    [pid],
  );
  return r.rows[0]?.state;
}

/** A backend's state and what it waits on ("active, Client/ClientRead"), or undefined once it is gone. */
async function backendState(c: NetContext, pid: number): Promise<string | undefined> {
  const r = await c.db.pool.query<{ state: string | null; wait: string | null; query: string | null }>(
    `SELECT state, wait_event_type || '/' || wait_event AS wait, left(query, 30) AS query FROM pg_stat_activity WHERE pid = $1`,
    [pid],
  );
  const row = r.rows[0];
  if (row === undefined) return undefined;
  return `${row.state ?? 'null'}, ${row.wait ?? 'no wait'}, ${(row.query ?? '').split(/\s+/).slice(0, 3).join(' ')}`;
}

/** Cuts `links` at a moment pg_stat_activity shows the host's engine inside a flush transaction; retries until a cut lands inside one. */
async function cutInsideFlush(
  c: NetContext,
  host: NetworkHost,
  links: Service[],
): Promise<{ pid: number; state: string; attempts: number }> {
  for (let attempt = 1; attempt <= 20; attempt++) {
    const pid = await waitFor('a flush transaction', () => flushBackend(c, host), 60_000, 5);
    links.forEach((l) => host.cut(l));
    await sleep(300); // whatever was on the wire before the cut has arrived by now
    const state = await stillInTransaction(c, pid);
    if (state !== undefined) return { pid, state, attempts: attempt };
    links.forEach((l) => host.heal(l));
    await sleep(500);
  }
  throw new Error('no cut landed inside a flush transaction in 20 attempts');
}

/** Cut from Postgres only, inside a flush transaction; heal after `holdMs`. */
async function postgresCut(c: NetContext, holdMs: number, cuts: number): Promise<string> {
  const host = c.hosts[0]!;
  const a = await c.startIn(host, { FLUSH_MAX_AGE_MS: '1000', FLUSH_MAX_EVENTS: '20000' });
  c.beginLoad();
  await waitForPartitions(a, 6, 60_000);
  const notes: string[] = [];
  for (let i = 0; i < cuts; i++) {
    await sleep(3000);
    const cut = await cutInsideFlush(c, host, ['postgres']);
    const before = await c.committed();
    await sleep(holdMs);
    const during = (await c.committed()) - before;
    // The backend still waits for the rest of the transaction: the cut stalled it, it did not close it.
    const stateAtHeal = await stillInTransaction(c, cut.pid);
    host.heal('postgres');
    if (during !== 0) throw new Error(`${during} events committed while the only engine was cut from Postgres`);
    notes.push(
      `cut ${i + 1}: backend ${cut.pid} '${cut.state}' at the cut, '${stateAtHeal ?? 'gone'}' at the heal (attempt ${cut.attempts})`,
    );
  }
  return `${cuts} cuts inside a flush transaction, each held ${holdMs / 1000} s; ${notes.join('; ')}`;
}

/**
 * Cut from Postgres inside a flush for longer than the actor pools' statement_timeout and
 * idle_in_transaction_session_timeout (60 s, src/actors/worker.ts), then healed. Postgres ends the
 * stalled transaction on its own; the engine must find its dead connection once the link is back
 * and commit again without a restart. If it exits instead, it is restarted in its namespace, as a
 * supervisor would, and the note says so.
 */
async function postgresLongCut(c: NetContext, holdMs: number): Promise<string> {
  const host = c.hosts[0]!;
  const env = { FLUSH_MAX_AGE_MS: '1000', FLUSH_MAX_EVENTS: '20000' };
  const a = await c.startIn(host, env);
  c.beginLoad();
  if (!(await waitForPartitions(a, 6, 60_000))) throw new Error('the engine never held the 6 partitions');
  await sleep(3000);
  const cut = await cutInsideFlush(c, host, ['postgres']);
  const cutAt = Date.now();
  const before = await c.committed();
  // Postgres' side: what becomes of the stalled backend (statement_timeout, idle_in_transaction_session_timeout)?
  const states: string[] = [];
  const atCut = await backendState(c, cut.pid);
  let state = atCut;
  while (Date.now() - cutAt < holdMs) {
    await sleep(1000);
    const now = await backendState(c, cut.pid);
    if (now !== state) states.push(`'${now ?? 'gone'}' ${((Date.now() - cutAt) / 1000).toFixed(0)} s in`);
    state = now;
  }
  const during = (await c.committed()) - before;
  const atHeal = await storedOffsets(c);
  host.heal('postgres');
  const healedAt = Date.now();
  if (during !== 0) throw new Error(`${during} events committed while the only engine was cut from Postgres`);
  const exitedBefore = a.proc.exitCode ?? a.proc.signalCode;
  let restarted = '';
  const allMoved = async (): Promise<true | undefined> => {
    if (restarted === '' && (a.proc.exitCode !== null || a.proc.signalCode !== null)) {
      restarted = `the engine exited (${String(a.proc.exitCode ?? a.proc.signalCode)}) ${((Date.now() - healedAt) / 1000).toFixed(0)} s after the heal and was restarted in its namespace`;
      await c.startIn(host, env);
    }
    const now = await storedOffsets(c);
    return [...atHeal].every(([p, o]) => (now.get(p) ?? 0) > o) || undefined;
  };
  await waitFor('every partition committed after the heal', allMoved, 300_000, 500).catch(() => {
    throw new Error(
      `not every partition committed within 300 s of the heal (engine ${a.proc.exitCode === null && a.proc.signalCode === null ? 'still running' : 'exited'})`,
    );
  });
  const recoveredIn = (Date.now() - healedAt) / 1000;
  const backendAfter = await backendState(c, cut.pid);
  const retries = a.logs.filter((l) => l.includes('failed; retrying with backoff')).length;
  const how =
    exitedBefore !== null
      ? `the engine exited during the cut (${String(exitedBefore)}) and was restarted in its namespace`
      : restarted !== ''
        ? restarted
        : 'the same engine process, never restarted';
  const ended = states.length > 0 ? `then ${states.join('; ')}` : 'unchanged until the heal';
  return `cut ${holdMs / 1000} s inside a flush (backend ${cut.pid} '${atCut ?? 'gone'}' just after the cut, attempt ${cut.attempts}; ${ended}); nothing committed during the cut; every partition committed again ${recoveredIn.toFixed(1)} s after the heal by ${how} (the backend then: '${backendAfter ?? 'gone'}'); ${retries} retry warnings logged`;
}

/** Each partition's stored offset in Postgres. */
async function storedOffsets(c: NetContext): Promise<Map<number, number>> {
  const r = await c.db.pool.query<{ partition: number; next_offset: string }>(
    'SELECT partition, next_offset FROM consumer_offsets WHERE topic = $1',
    [c.topic],
  );
  return new Map(r.rows.map((x) => [x.partition, Number(x.next_offset)]));
}

/**
 * Cut from both Kafka and Postgres inside a flush transaction; the second engine takes over,
 * then heal. The stalled transaction still holds its partition's offset row: the second engine's
 * open ends that session after its takeover wait (src/store/offsets.ts), so every partition must
 * commit again during the cut; the note says how long after the cut.
 */
async function bothCut(c: NetContext, holdMs: number): Promise<string> {
  const host = c.hosts[0]!;
  const a = await c.startIn(host, { FLUSH_MAX_AGE_MS: '1000', FLUSH_MAX_EVENTS: '20000' });
  const b = await c.startRoot();
  c.beginLoad();
  if (!(await waitForPartitions(a, 3, 60_000)))
    throw new Error('engine in the namespace never held 3 of the 6 partitions');
  await sleep(3000);
  const cut = await cutInsideFlush(c, host, ['kafka', 'postgres']);
  const cutAt = Date.now();
  const atCut = await storedOffsets(c);
  const allMoved = async (): Promise<true | undefined> => {
    const now = await storedOffsets(c);
    return [...atCut].every(([p, o]) => (now.get(p) ?? 0) > o) || undefined;
  };
  const movedDuringCut = await waitFor('every partition committed during the cut', allMoved, holdMs, 250).then(
    () => true,
    () => false,
  );
  const movedAfter = (Date.now() - cutAt) / 1000;
  const secondHeld = (await engineMetric(b, 'loyalty_assigned_partitions')) ?? 0;
  await sleep(Math.max(0, holdMs - (Date.now() - cutAt)));
  host.heal('kafka');
  host.heal('postgres');
  const healedAt = Date.now();
  if (!movedDuringCut) {
    await waitFor('every partition committed after the heal', allMoved, 180_000, 250);
    throw new Error(
      `every partition committed again only ${((Date.now() - healedAt) / 1000).toFixed(1)} s after the heal, not during the cut (the second engine held ${secondHeld} partitions at its end): the stalled flush kept its partition's offset row locked`,
    );
  }
  return `cut off ${holdMs / 1000} s inside a flush transaction (backend ${cut.pid} '${cut.state}', attempt ${cut.attempts}); every partition committed again during the cut, ${movedAfter.toFixed(1)} s after it (the second engine held ${secondHeld} partitions)`;
}

/** What the engine and its Postgres link had done by one moment (engine /metrics, the namespace relay's counts). */
interface LinkSample {
  at: number;
  committed: number;
  flushes: number;
  flushSeconds: number;
  flushedEvents: number;
  lag: number;
  link: RelayStats;
}

async function linkSample(c: NetContext, e: EngineProcess, host: NetworkHost): Promise<LinkSample> {
  const base = (e as NamespacedEngine).baseUrl();
  const text = (await scrape(base)) ?? '';
  return {
    at: Date.now(),
    committed: await c.committed(),
    flushes: metricSum(text, 'loyalty_flush_duration_seconds_count'),
    flushSeconds: metricSum(text, 'loyalty_flush_duration_seconds_sum'),
    flushedEvents: metricSum(text, 'loyalty_flush_batch_events_sum'),
    lag: metricSum(text, 'loyalty_consumer_lag'),
    link: await host.postgresLinkStats(),
  };
}

/** Flushes, their mean time and size, and the round trips over the link between two samples. */
export function linkFigures(a: LinkSample, b: LinkSample): string {
  const flushes = b.flushes - a.flushes;
  const tx = b.link.copyTransactions - a.link.copyTransactions;
  const inTx = b.link.copyTransactionTurns - a.link.copyTransactionTurns;
  const turns = b.link.turns - a.link.turns;
  const events = b.committed - a.committed;
  const perFlush = tx > 0 ? inTx / tx : NaN;
  const outside = turns - inTx;
  return (
    `${flushes} flushes of ${flushes > 0 ? Math.round((b.flushedEvents - a.flushedEvents) / flushes) : 0} events, ` +
    `${flushes > 0 ? ((b.flushSeconds - a.flushSeconds) / flushes).toFixed(2) : '-'} s each; ` +
    `${turns} round trips on the link: ${perFlush.toFixed(1)} per flush transaction (BEGIN to COMMIT), ` +
    `${events > 0 ? ((outside * 1000) / events).toFixed(1) : '-'} outside flushes per 1000 events`
  );
}

/** Waits until `total` events are committed; fails only when nothing is committed for `stallMs`. */
async function drainWhileProgressing(c: NetContext, total: number, stallMs: number): Promise<void> {
  let last = await c.committed();
  let lastMoved = Date.now();
  while (last < total) {
    await sleep(500);
    const now = await c.committed();
    if (now > last) {
      last = now;
      lastMoved = Date.now();
    } else if (Date.now() - lastMoved > stallMs)
      throw new Error(`the drain stalled: ${last} of ${total} events committed, none in ${stallMs / 1000} s`);
  }
}

/**
 * 200 +/- 50 ms delay (relay) and 1 % loss (iptables, both ways) on the Postgres link under `rate`
 * events/s. Reports throughput (committed events/s while the load runs, and the drain after it),
 * freshness (produce -> committed), flush sizes and times, round trips per flush, and lag. It
 * asserts what the issue asks, nothing lost or wrong, and liveness: the backlog the slow link builds
 * must keep draining (no `stallMs` without a commit), however long that takes at this link's pace.
 */
async function slowPostgres(c: NetContext, env: Record<string, string>, stallMs: number): Promise<string> {
  const host = c.hosts[0]!;
  const a = await c.startIn(host, env);
  await waitForPartitions(a, 6, 60_000);
  host.delayPostgres(true);
  host.loss('postgres', 0.01);
  const s0 = await linkSample(c, a, host);
  const started = s0.at;
  const load = c.beginLoad();
  let maxLag = 0;
  const watch = setInterval(() => {
    linkSample(c, a, host).then(
      (s) => {
        maxLag = Math.max(maxLag, s.lag);
        log(
          `slow link: ${((s.at - started) / 1000).toFixed(0)} s, committed ${s.committed - s0.committed}, lag ${s.lag}; ${linkFigures(s0, s)}`,
        );
      },
      () => undefined,
    );
  }, 10_000);
  try {
    const produced = await load.done;
    const s1 = await linkSample(c, a, host);
    const window = (s1.at - started) / 1000;
    await drainWhileProgressing(c, produced, stallMs);
    const s2 = await linkSample(c, a, host);
    host.delayPostgres(false);
    host.loss('postgres', 0);
    await sleep(600); // one more committed sample
    const f = freshness(load.produced, c.committedSeries);
    const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    return (
      `produced ${Math.round(produced / window)} events/s for ${window.toFixed(0)} s; committed ${Math.round((s1.committed - s0.committed) / window)} events/s meanwhile, ` +
      `lag ${s1.lag} at the load's end (max ${Math.max(maxLag, s1.lag)}), drained ${((s2.at - s1.at) / 1000).toFixed(1)} s after it ` +
      `(${Math.round((s2.committed - s0.committed) / ((s2.at - started) / 1000))} events/s overall); ` +
      `freshness (produce -> committed) p50 ${fmt(percentile(f.delaysMs, 50))}, p99 ${fmt(percentile(f.delaysMs, 99))}, max ${fmt(Math.max(...f.delaysMs))}; ` +
      linkFigures(s0, s2)
    );
  } finally {
    clearInterval(watch);
  }
}

/** Both links of the namespace go down 2 s, up 2 s, for `seconds`. */
async function flapping(c: NetContext, seconds: number): Promise<string> {
  const host = c.hosts[0]!;
  const a = await c.startIn(host);
  await c.startRoot();
  c.beginLoad();
  await waitForPartitions(a, 3, 60_000);
  const end = Date.now() + seconds * 1000;
  let flaps = 0;
  const before = await c.committed();
  const offsetsBefore = await storedOffsets(c);
  while (Date.now() < end) {
    host.cut('kafka');
    host.cut('postgres');
    await sleep(2000);
    host.heal('kafka');
    host.heal('postgres');
    flaps++;
    await sleep(2000);
  }
  const during = (await c.committed()) - before;
  const after = await storedOffsets(c);
  const advanced = [...offsetsBefore].filter(([p, o]) => (after.get(p) ?? 0) > o).length;
  if (during <= 0) throw new Error('nothing committed while the link flapped');
  return `${flaps} flaps (2 s down, 2 s up), ${during} events committed meanwhile, ${advanced} of 6 partitions advanced`;
}

/**
 * The network scenarios for test/chaos/run.ts: the short form (CI) runs the Kafka cut, shortened;
 * `--long` runs all six at full length; `--only` names any of them in either form (the long Postgres
 * cut has one length: it must outlast the 60 s timeouts).
 */
export function networkScenarios(long: boolean, only: string | undefined): [string, () => Promise<ChaosRow>][] {
  const all: [string, boolean, () => Promise<ChaosRow>][] = [
    [
      'net-kafka-cut',
      true,
      () =>
        runNetworkScenario(
          `netns: cut from Kafka only, healed after ${long ? 60 : 15} s`,
          { rate: 2000, seconds: long ? 120 : 45, hosts: 1 },
          (c) => kafkaCut(c, long ? 60_000 : 15_000),
        ),
    ],
    [
      'net-pg-cut',
      false,
      () =>
        runNetworkScenario(
          'netns: cut from Postgres inside a flush',
          { rate: 2000, seconds: long ? 120 : 50, hosts: 1 },
          (c) => postgresCut(c, long ? 30_000 : 10_000, long ? 3 : 1),
        ),
    ],
    [
      'net-both-cut',
      false,
      () =>
        runNetworkScenario(
          'netns: cut from Kafka and Postgres, healed',
          { rate: 2000, seconds: long ? 120 : 45, hosts: 1 },
          (c) => bothCut(c, long ? 60_000 : 15_000),
        ),
    ],
    [
      'net-pg-long-cut',
      false,
      () =>
        runNetworkScenario(
          'netns: cut from Postgres inside a flush for 75 s (> the 60 s timeouts), healed',
          { rate: 2000, seconds: 150, hosts: 1 },
          (c) => postgresLongCut(c, 75_000),
        ),
    ],
    [
      'net-slow-pg',
      false,
      () =>
        runNetworkScenario(
          'netns: Postgres link 200+-50 ms, 1 % loss, 20k ev/s',
          { rate: 20_000, seconds: long ? 60 : 20, hosts: 1 },
          // The engine's own batch and flush limits, not the suite's small ones (harness.ts): this scenario measures
          // throughput and freshness over the link, and 500-event batches would multiply its round trips tenfold.
          (c) => slowPostgres(c, { FLUSH_MAX_EVENTS: '20000', MAX_BATCH_EVENTS: '5000' }, 60_000),
        ),
    ],
    [
      'net-flap',
      false,
      () =>
        runNetworkScenario(
          'netns: link flapping 2 s down / 2 s up',
          { rate: 2000, seconds: long ? 80 : 40, hosts: 1 },
          (c) => flapping(c, long ? 60 : 20),
        ),
    ],
  ];
  const named = only?.split(',') ?? [];
  return all.filter(([key, short]) => long || short || named.includes(key)).map(([key, , run]) => [key, run]);
}
