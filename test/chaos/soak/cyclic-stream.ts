import { ExpectedBalances } from '../../../tools/simulator/expected-balances.js';
import { formatTimestamp, generateMessages, type GeneratorOptions } from '../../../tools/simulator/generator.js';

export const WEEK_MS = 7 * 86_400_000;

/**
 * A bounded block of generated messages replayed in cycles, so a soak of any length keeps its
 * producer and its replay small. Each cycle renames the block's event ids (`id~cycle`, and the
 * refunded purchase's id alike), so the engine sees new events, not repeats, and may move the
 * whole block in event time by whole weeks, so event time advances through the soak as it does
 * in production (a block replayed on the same 14 days would pile every cycle's ids into the
 * same ledger partitions and the same duplicate windows). With no redeems, no event's effect
 * depends on the balance, and a whole-week move keeps every local weekday (the weekend rule)
 * and every distance inside the cycle (repeats, refunds): a cycle adds exactly what the block
 * adds, and the expected balances after c cycles and a prefix of p messages are
 * c x block + replay(prefix).
 */
export interface CyclicBlock {
  size: number;
  /** The replay of the whole block, from empty balances. */
  blockBalances: ReadonlyMap<string, number>;
  /**
   * Message i of cycle c, its event time moved by `weeks` whole weeks (the same for a whole cycle), as text: the
   * soak's producer (kcat) takes lines, and this runs on the cores the engine is measured on.
   */
  message: (c: number, i: number, weeks?: number) => { key: string | null; value: string | null };
  /** Expected balances after `cycles` whole cycles and the first `prefix` messages of the next. */
  expectedAfter: (cycles: number, prefix: number) => ExpectedBalances;
}

const CYCLE = '\u0001cycle\u0001';
const TIME = '\u0001time\u0001';
/** The marks as they appear inside JSON text (the control character escaped). */
const inJson = (mark: string): string => JSON.stringify(mark).slice(1, -1);
const literal = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
const CYCLE_IN_JSON = inJson(CYCLE);
const TIME_IN_JSON = inJson(TIME);
const SPLIT = new RegExp(`(${literal(CYCLE_IN_JSON)}|${literal(TIME_IN_JSON)})`);

/** A valid message as text pieces around its marks, with what fills them. */
interface Template {
  pieces: string[];
  /** The event time's instant and the offset it is written in (weekday rules read the local date). */
  ms: number;
  offset: string;
  /** The time text for `weeks`, kept: a cycle's move changes a few times a run, and the producer shares the cores. */
  weeks: number;
  text: string;
}

export function cyclicBlock(size: number, gen: GeneratorOptions): CyclicBlock {
  if (gen.redeemRatio !== 0)
    throw new Error('a cyclic block needs redeemRatio 0: a redeem depends on the balance, so cycles would not add up');
  const messages = [...generateMessages(size, gen)];
  const templates = messages.map((m): Template | null => {
    if (m.bad || m.event === undefined || m.value === null) return null;
    const body = JSON.parse(m.value.toString('utf8')) as Record<string, unknown>;
    if (typeof body.event_id === 'string') body.event_id = `${body.event_id}~${CYCLE}`;
    if (typeof body.original_event_id === 'string') body.original_event_id = `${body.original_event_id}~${CYCLE}`;
    body.timestamp = TIME;
    const ts = m.event.timestamp;
    return { pieces: JSON.stringify(body).split(SPLIT), ms: Date.parse(ts), offset: ts.slice(19), weeks: 0, text: ts };
  });
  const replay = (n: number): ExpectedBalances => {
    const e = new ExpectedBalances();
    for (let i = 0; i < n; i++) e.add(messages[i]!);
    return e;
  };
  const block = replay(size).balances;
  // Messages sent as they are (the bad ones), as text once.
  const asIs = messages.map((m) => m.value?.toString('utf8') ?? null);
  return {
    size,
    blockBalances: block,
    message: (c, i, weeks = 0) => {
      const m = messages[i]!;
      const t = templates[i];
      if (!t) return { key: m.key, value: asIs[i]! };
      if (t.weeks !== weeks) {
        t.weeks = weeks;
        t.text = formatTimestamp(t.ms + weeks * WEEK_MS, t.offset);
      }
      const cycle = String(c);
      let value = '';
      for (const p of t.pieces) value += p === CYCLE_IN_JSON ? cycle : p === TIME_IN_JSON ? t.text : p;
      return { key: m.key, value };
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

/**
 * Weeks to move a cycle that starts at `elapsed` of `total` seconds: from -`span` at the start to 0 at the end,
 * in equal steps, so the soak's event time walks `span` weeks towards the block's own (recent) weeks. The
 * generator's block lies 1-3 weeks back; 9 weeks before that stays inside the ledger's 90-day retention.
 */
export function weeksAt(elapsed: number, total: number, span = 9): number {
  return Math.min(0, -span + Math.floor(((span + 1) * elapsed) / total));
}
