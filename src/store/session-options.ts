/**
 * The settings every engine connection to Postgres starts with (libpq's `options`), in one place.
 *
 * - `jit=off`: the engine's statements are short lookups and writes, but over many daily partitions the
 *   planner's estimates pass jit_above_cost, and compiling a duplicate lookup took 0.3-1 s where running it
 *   took 20 ms; on a ledger with history that made the engine fall behind (docs/ledger.md).
 * - With `flushTimeoutMs`: statement_timeout and idle_in_transaction_session_timeout. An engine cut off
 *   mid-flush leaves its transaction open, holding the partition's offset row: the next owner could not even
 *   open the partition. Postgres ends such a transaction after this, whatever the network.
 */
export function sessionOptions(flushTimeoutMs?: number): string {
  const o = ['-c jit=off'];
  if (flushTimeoutMs !== undefined)
    o.push(`-c statement_timeout=${flushTimeoutMs}`, `-c idle_in_transaction_session_timeout=${flushTimeoutMs}`);
  return o.join(' ');
}
