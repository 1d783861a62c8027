import { ExpectedBalances } from '../../../tools/simulator/expected-balances.js';
import { generateMessages, type GeneratorOptions } from '../../../tools/simulator/generator.js';

/**
 * A bounded block of generated messages replayed in cycles, so a soak of any length keeps its
 * producer and its replay small. Each cycle renames the block's event ids (`id~cycle`, and the
 * refunded purchase's id alike), so the engine sees new events, not repeats; with no redeems, no
 * event's effect depends on the balance, so a cycle adds exactly what the block adds, and the
 * expected balances after c cycles and a prefix of p messages are c x block + replay(prefix).
 */
export interface CyclicBlock {
  size: number;
  /** The replay of the whole block, from empty balances. */
  blockBalances: ReadonlyMap<string, number>;
  /** Message i of cycle c. */
  message: (c: number, i: number) => { key: string | null; value: Buffer | null };
  /** Expected balances after `cycles` whole cycles and the first `prefix` messages of the next. */
  expectedAfter: (cycles: number, prefix: number) => ExpectedBalances;
}

const MARK = '\u0001cycle\u0001';

export function cyclicBlock(size: number, gen: GeneratorOptions): CyclicBlock {
  if (gen.redeemRatio !== 0)
    throw new Error('a cyclic block needs redeemRatio 0: a redeem depends on the balance, so cycles would not add up');
  const messages = [...generateMessages(size, gen)];
  // Valid events with ids are stored as text split where the cycle number goes.
  const parts = messages.map((m) => {
    if (m.bad || m.event?.eventId === undefined || m.value === null) return null;
    const body = JSON.parse(m.value.toString('utf8')) as Record<string, unknown>;
    body.event_id = `${String(body.event_id)}~${MARK}`;
    if (typeof body.original_event_id === 'string') body.original_event_id = `${body.original_event_id}~${MARK}`;
    return JSON.stringify(body).split(JSON.stringify(MARK).slice(1, -1));
  });
  const replay = (n: number): ExpectedBalances => {
    const e = new ExpectedBalances();
    for (let i = 0; i < n; i++) e.add(messages[i]!);
    return e;
  };
  const block = replay(size).balances;
  return {
    size,
    blockBalances: block,
    message: (c, i) => {
      const m = messages[i]!;
      const p = parts[i];
      return { key: m.key, value: p ? Buffer.from(p.join(String(c))) : m.value };
    },
    expectedAfter: (cycles, prefix) => {
      const e = replay(prefix);
      for (const [user, points] of block) {
        if (cycles > 0) e.balances.set(user, (e.balances.get(user) ?? 0) + cycles * points);
      }
      return e;
    },
  };
}
