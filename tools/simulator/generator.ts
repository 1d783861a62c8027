import { createRandom, createZipf } from './prng.js';

export interface GeneratorOptions {
  users: number;
  /** Zipf exponent for user popularity; 0 = uniform. Ignored when `cycleUsers` is set. */
  skew: number;
  /** Users in turn (0, 1, ..., users-1, 0, ...): N events over N users touch exactly N distinct users. */
  cycleUsers?: boolean;
  redeemRatio: number;
  /** Share of events that refund part or all of an earlier purchase of the same user. */
  refundRatio?: number;
  /** Share of events that re-send an earlier event unchanged (the engine must not count it twice). */
  duplicateRatio?: number;
  /** Share of messages that are deliberately invalid (dead letters). */
  badRatio: number;
  seed: number;
  /** Timestamps fall within the 14 days from here (both weekdays and weekends); default: recentMonday(). */
  startMs?: number;
}

export interface SimulatedMessage {
  key: string | null;
  value: Buffer | null;
  /** The partition to produce to; absent: the producer's partitioner (by key). */
  partition?: number;
  /** True when the engine must dead-letter it. */
  bad: boolean;
  /** For valid events: what the reference replay needs. */
  event?: {
    userId: string;
    type: 'purchase' | 'redeem' | 'refund';
    amount: number;
    timestamp: string;
    eventId?: string;
    originalEventId?: string;
  };
}

const OFFSETS = ['Z', '+09:00', '-05:00', '+01:00', '-08:00', '+05:30'];
const BAD_KINDS = [
  'malformed_json',
  'unknown_type',
  'negative_amount',
  'missing_user',
  'absurd_amount',
  'bad_timestamp',
  'key_mismatch',
  'oversized',
  'not_object',
] as const;

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** RFC 3339 text for an instant shown in the given offset (the weekend rule uses that local day). */
export function formatTimestamp(ms: number, offset: string): string {
  const minutes =
    offset === 'Z'
      ? 0
      : (offset.startsWith('-') ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  const d = new Date(ms + minutes * 60_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${offset}`;
}

export const userName = (i: number): string => `user-${i}`;

/**
 * A deterministic stream of seed-format events keyed by user. The same options give the
 * same messages, byte for byte, so a test or a benchmark can replay them independently.
 */
/**
 * Midnight UTC of the Monday two to three weeks before `nowMs`: the 14 days of generated events then lie in the
 * past but well within the ledger's retention, whatever the date the stream is generated (the same all week).
 */
export function recentMonday(nowMs = Date.now()): number {
  const day = Math.floor(nowMs / 86_400_000) - 14;
  // Day 0 (1970-01-01) was a Thursday: (day + 3) mod 7 is 0 on Mondays.
  return (day - ((day + 3) % 7)) * 86_400_000;
}

export function* generateMessages(count: number, o: GeneratorOptions): Generator<SimulatedMessage> {
  const random = createRandom(o.seed);
  let turn = 0;
  // Cycling needs no popularity table (a million entries for the benchmark's 1M users).
  const pickUser = o.cycleUsers ? (): number => turn++ % o.users : createZipf(o.users, o.skew, random);
  const start = o.startMs ?? recentMonday();
  const refundRatio = o.refundRatio ?? 0;
  const duplicateRatio = o.duplicateRatio ?? 0;
  // Recent purchases per user (refund targets) and recent events (to re-send): bounded.
  const purchases = new Map<string, { id: string; amount: number }[]>();
  const recent: SimulatedMessage[] = [];
  for (let i = 0; i < count; i++) {
    const userId = userName(pickUser());
    const ts = formatTimestamp(
      start + Math.floor(random() * 14 * 86_400_000),
      OFFSETS[Math.floor(random() * OFFSETS.length)]!,
    );
    const withId = random() < 0.9;
    if (random() < o.badRatio) {
      yield badMessage(BAD_KINDS[Math.floor(random() * BAD_KINDS.length)]!, userId, ts, i, o.seed);
      continue;
    }
    const roll = random();
    if (roll < duplicateRatio && recent.length > 0) {
      yield recent[Math.floor(random() * recent.length)]!;
      continue;
    }
    const mine = purchases.get(userId);
    if (roll < duplicateRatio + refundRatio && mine !== undefined && mine.length > 0) {
      const p = mine[Math.floor(random() * mine.length)]!;
      const share = [0.25, 0.5, 1][Math.floor(random() * 3)]!;
      const amount = Math.round(p.amount * share * 100) / 100;
      const eventId = `r-${o.seed}-${i}`;
      const body = {
        event_id: eventId,
        user_id: userId,
        event_type: 'refund',
        amount,
        timestamp: ts,
        original_event_id: p.id,
      };
      yield remember(recent, {
        key: userId,
        value: Buffer.from(JSON.stringify(body)),
        bad: false,
        event: { userId, type: 'refund', amount, timestamp: ts, eventId, originalEventId: p.id },
      });
      continue;
    }
    const redeem = random() < o.redeemRatio;
    const amount = redeem ? 1 + Math.floor(random() * 300) : Math.round(random() * 50_000) / 100;
    const type = redeem ? 'redeem' : 'purchase';
    const body: Record<string, unknown> = { user_id: userId, event_type: type, amount, timestamp: ts };
    const eventId = withId ? `e-${o.seed}-${i}` : undefined;
    if (eventId !== undefined) body.event_id = eventId;
    if (!redeem && eventId !== undefined && refundRatio > 0) {
      const list = purchases.get(userId) ?? [];
      if (list.length >= 4) list.shift();
      list.push({ id: eventId, amount });
      purchases.set(userId, list);
    }
    const m: SimulatedMessage = {
      key: userId,
      value: Buffer.from(JSON.stringify(body)),
      bad: false,
      event: { userId, type, amount, timestamp: ts, ...(eventId !== undefined && { eventId }) },
    };
    yield eventId !== undefined && duplicateRatio > 0 ? remember(recent, m) : m;
  }
}

function remember(recent: SimulatedMessage[], m: SimulatedMessage): SimulatedMessage {
  if (recent.length >= 1000) recent.shift();
  recent.push(m);
  return m;
}

function badMessage(
  kind: (typeof BAD_KINDS)[number],
  userId: string,
  ts: string,
  i: number,
  seed: number,
): SimulatedMessage {
  const base = { event_id: `bad-${seed}-${i}`, user_id: userId, event_type: 'purchase', amount: 10, timestamp: ts };
  let value: string;
  let key: string | null = userId;
  switch (kind) {
    case 'malformed_json':
      value = `{"user_id": "${userId}", "amount": 1`;
      break;
    case 'unknown_type':
      value = JSON.stringify({ ...base, event_type: 'gift' });
      break;
    case 'negative_amount':
      value = JSON.stringify({ ...base, amount: -5 });
      break;
    case 'missing_user':
      value = JSON.stringify({ ...base, user_id: undefined });
      break;
    case 'absurd_amount':
      value = JSON.stringify({ ...base, amount: 1e308 });
      break;
    case 'bad_timestamp':
      value = JSON.stringify({ ...base, timestamp: '10000-01-01T00:00:00Z' });
      break;
    case 'key_mismatch':
      value = JSON.stringify(base);
      key = `${userId}-other`;
      break;
    case 'oversized':
      value = JSON.stringify({ ...base, pad: 'x'.repeat(70_000) });
      break;
    case 'not_object':
      value = '[1,2,3]';
      break;
  }
  return { key, value: Buffer.from(value), bad: true };
}
