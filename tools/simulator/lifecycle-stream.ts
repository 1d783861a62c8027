import { createRandom } from './prng.js';
import type { SimulatedMessage } from './generator.js';

/**
 * Streams for the points lifecycle (config/rules.schema.md, "Points lifecycle"): purchases,
 * redeems, refunds and adjusts (some with `expires_at`) spread over many days of event time,
 * mostly in time order with some late events, a few of them so late that their lot is expired
 * at once. Users are pinned to partitions (user i -> partition i mod P), so a replay knows each
 * partition's order. Run the engine with LEDGER_RETENTION longer than `days`, or older events are
 * dead letters `event_too_old`.
 */
export interface LifecycleStreamOptions {
  events: number;
  users: number;
  partitions: number;
  /** Days of event time the stream covers, ending at `endMs`. */
  days: number;
  endMs: number;
  seed: number;
  /** Share of events shifted back by up to 3 days. */
  lateRatio?: number;
  /** Share of purchases and adjusts shifted back by about 400 days (expired at once with a 365d expiry). */
  veryLateRatio?: number;
}

export interface LifecycleEvent {
  eventId: string;
  userId: string;
  partition: number;
  type: 'purchase' | 'redeem' | 'refund' | 'adjust';
  amount: number;
  timeMs: number;
  originalEventId?: string;
  expiresAtMs?: number;
}

const DAY = 86_400_000;

export function* lifecycleEvents(o: LifecycleStreamOptions): Generator<LifecycleEvent> {
  const rnd = createRandom(o.seed);
  const startMs = o.endMs - o.days * DAY;
  const purchases = new Map<string, { id: string; amount: number; timeMs: number }[]>();
  const lateRatio = o.lateRatio ?? 0.05;
  const veryLate = o.veryLateRatio ?? 0.005;
  for (let i = 0; i < o.events; i++) {
    const u = Math.floor(rnd() * o.users);
    const userId = `lc-${u}`;
    const base = startMs + Math.floor(((o.days * DAY - 3_600_000) * i) / o.events);
    let timeMs = base + Math.floor(rnd() * 3_600_000);
    if (rnd() < lateRatio) timeMs -= Math.floor(rnd() * 3 * DAY);
    const r = rnd();
    const e: LifecycleEvent = {
      eventId: `lce-${o.seed}-${i}`,
      userId,
      partition: u % o.partitions,
      type: 'purchase',
      amount: 0,
      timeMs,
    };
    const mine = purchases.get(userId) ?? [];
    if (r < 0.5) {
      e.amount = 1 + Math.floor(rnd() * 200);
      if (rnd() < veryLate) e.timeMs -= 400 * DAY;
      mine.push({ id: e.eventId, amount: e.amount, timeMs: e.timeMs });
      purchases.set(userId, mine.slice(-20));
    } else if (r < 0.75) {
      e.type = 'redeem';
      e.amount = 1 + Math.floor(rnd() * 150);
    } else if (r < 0.85) {
      // A refund of a recent purchase of the user, well inside the 90-day refund window.
      const candidates = mine.filter((p) => Math.abs(p.timeMs - timeMs) < 80 * DAY);
      const p = candidates[Math.floor(rnd() * candidates.length)];
      if (p === undefined) {
        e.amount = 1 + Math.floor(rnd() * 50);
      } else {
        e.type = 'refund';
        e.originalEventId = p.id;
        e.amount = rnd() < 0.5 ? p.amount : 1 + Math.floor(rnd() * p.amount);
      }
    } else {
      e.type = 'adjust';
      e.amount = rnd() < 0.7 ? 1 + Math.floor(rnd() * 100) : -(1 + Math.floor(rnd() * 60));
      if (e.amount > 0 && rnd() < 0.5) {
        if (rnd() < veryLate * 10) e.timeMs -= 30 * DAY; // its own expiry may then lie before the clock
        e.expiresAtMs = e.timeMs + DAY + Math.floor(rnd() * 400 * DAY);
      }
    }
    yield e;
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** An event as the wire JSON, keyed by user, to its user's partition. */
export function lifecycleMessage(e: LifecycleEvent): SimulatedMessage {
  const body: Record<string, unknown> = {
    event_id: e.eventId,
    user_id: e.userId,
    event_type: e.type,
    amount: e.amount,
    timestamp: iso(e.timeMs),
  };
  if (e.originalEventId !== undefined) body.original_event_id = e.originalEventId;
  if (e.type === 'adjust') body.reason = 'lifecycle stream';
  if (e.expiresAtMs !== undefined) body.expires_at = iso(e.expiresAtMs);
  return { key: e.userId, value: Buffer.from(JSON.stringify(body)), partition: e.partition, bad: false };
}

/** The rules file such streams are meant for: 1 point per whole unit, no multipliers, 14 days pending, 365 days validity. */
export const LIFECYCLE_RULES = `version: 1
earn: { points_per_unit: 1, base_rounding: floor, rounding: floor }
rules: []
tiers: []
allow_negative: false
idempotency_window: 7d
refund_window: 90d
lifecycle:
  pending: 14d
  expires_after: 365d
`;
