package local.loyalty.streams;

/**
 * A decoded, schema-valid event (the engine's src/events/event.ts). {@code eventId} is null when the
 * producer sent none: such an event cannot repeat, so it needs no duplicate check.
 */
record LoyaltyEvent(
    String eventId,
    String userId,
    String type,
    double amount,
    long timestampMs,
    int utcOffsetMinutes,
    double[] itemAmounts,
    String originalEventId) {}
