/** The event kinds the engine understands. The seed's producer sends only purchase and redeem. */
export const EVENT_TYPES = ['purchase', 'redeem', 'refund', 'adjust'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface LineItem {
  amount: number;
  category?: string;
  sku?: string;
}

/** A decoded, schema-valid event. Field names are camelCase versions of the wire JSON. */
export interface LoyaltyEvent {
  /** From the wire, or `${topic}:${partition}:${offset}` when the producer sent none. */
  eventId: string;
  /** False when eventId was derived from the position: such an event cannot repeat, so needs no duplicate check. */
  eventIdGiven: boolean;
  userId: string;
  type: EventType;
  /** Currency amount for purchase/refund, points for redeem, signed points for adjust. */
  amount: number;
  /**
   * The RFC 3339 text as sent, for the ledger's COPY. When Postgres would read it as another instant than
   * timestampMs (a leap second, a fraction finer than microseconds), the instant in UTC with microseconds instead.
   */
  timestamp: string;
  /** Milliseconds since the epoch (UTC instant). */
  timestampMs: number;
  /** The timestamp's own UTC offset in minutes (+60 for "+01:00"); weekday rules use local time. */
  utcOffsetMinutes: number;
  category?: string;
  sku?: string;
  items?: LineItem[];
  /** refund only: the purchase being refunded. */
  originalEventId?: string;
  /** adjust only: why points were changed by hand. */
  reason?: string;
  /** adjust only, optional: when the adjust's points expire (ms since the epoch; after `timestampMs`). Used under a `lifecycle:` block. */
  expiresAtMs?: number;
}

/** What a user id may be, in events and in API paths alike. */
export const USER_ID = /^[A-Za-z0-9._:@-]{1,128}$/;
export const USER_ID_RULE = 'user_id must be 1-128 characters of [A-Za-z0-9._:@-]';
