/** How soon Postgres gives up on an engine it no longer hears from (TCP keepalive on the server's socket). */
export interface DeadPeerLimits {
  idleS: number;
  intervalS: number;
  count: number;
}

/** Silence for 10 s, then 3 unanswered probes 5 s apart: a vanished engine's session ends within about 25 s. */
export const DEAD_PEER: DeadPeerLimits = { idleS: 10, intervalS: 5, count: 3 };

/**
 * The settings every engine connection to Postgres starts with (libpq's `options`), in one place.
 *
 * - `jit=off`: the engine's statements are short lookups and writes, but over many daily partitions the
 *   planner's estimates pass jit_above_cost, and compiling a duplicate lookup took 0.3-1 s where running it
 *   took 20 ms; on a ledger with history that made the engine fall behind (docs/ledger.md).
 * - `max_parallel_workers_per_gather=0`: a lookup over many partitions of a large ledger was planned in parallel, and
 *   starting and ending the workers (waits ExecuteGather, BgWorkerShutdown in a soak's pg_stat_activity) cost more
 *   than the few index probes it shares out; the engine's sessions already run one per partition in parallel.
 * - TCP keepalive on the server's side: an engine cut off inside a flush leaves its backend waiting in a COPY
 *   for data, holding the partition's offset row, and neither statement_timeout nor
 *   idle_in_transaction_session_timeout ends that wait (README, chaos suite). With the kernel's default
 *   (2 hours of silence before the first probe) the partition's next owner could not commit for that long.
 * - With `flushTimeoutMs`: statement_timeout and idle_in_transaction_session_timeout, for a stalled statement
 *   or an open transaction whose engine is still connected but stuck.
 */
export function sessionOptions(flushTimeoutMs?: number, deadPeer: DeadPeerLimits = DEAD_PEER): string {
  const o = [
    '-c jit=off',
    '-c max_parallel_workers_per_gather=0',
    `-c tcp_keepalives_idle=${deadPeer.idleS}`,
    `-c tcp_keepalives_interval=${deadPeer.intervalS}`,
    `-c tcp_keepalives_count=${deadPeer.count}`,
  ];
  if (flushTimeoutMs !== undefined)
    o.push(`-c statement_timeout=${flushTimeoutMs}`, `-c idle_in_transaction_session_timeout=${flushTimeoutMs}`);
  return o.join(' ');
}
