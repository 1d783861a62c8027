package local.loyalty.streams;

import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Applies each event to its user's state (the engine's partition actor, src/actors/partition-actor.ts):
 * invalid messages are counted and skipped, repeated event ids within the window are ignored, and the
 * user's balance is forwarded whenever it changes (or the user is first seen, so a user whose only
 * events were rejected still has a balance of 0, as in the engine's balances table).
 */
final class BalanceProcessor implements Processor<String, byte[], String, Long> {
  static final String USERS = "users";
  static final String EVENT_IDS = "event-ids";
  static final AtomicLong INVALID = new AtomicLong();
  static final AtomicLong DUPLICATES = new AtomicLong();

  private final EventDecoder decoder = new EventDecoder();
  private ProcessorContext<String, Long> context;
  private KeyValueStore<String, UserState> users;
  private KeyValueStore<String, EventRecord> eventIds;

  @Override
  public void init(ProcessorContext<String, Long> context) {
    this.context = context;
    this.users = context.getStateStore(USERS);
    this.eventIds = context.getStateStore(EVENT_IDS);
  }

  @Override
  public void process(Record<String, byte[]> record) {
    LoyaltyEvent e = decoder.decode(record.key(), record.value());
    if (e == null) {
      INVALID.incrementAndGet();
      return;
    }
    String idKey = e.eventId() == null ? null : e.userId() + "/" + e.eventId();
    EventRecord seen = idKey == null ? null : eventIds.get(idKey);
    if (seen != null && seen.seenWithin(e.timestampMs(), SeedRules.IDEMPOTENCY_WINDOW_MS)) {
      DUPLICATES.incrementAndGet();
      return;
    }
    EventRecord purchase = null;
    if (e.type().equals("refund")) {
      purchase = eventIds.get(e.userId() + "/" + e.originalEventId());
      // A refund of an unknown purchase is a dead letter in the engine.
      if (purchase == null || !purchase.purchase) {
        INVALID.incrementAndGet();
        return;
      }
    }
    UserState u = users.get(e.userId());
    boolean isNew = u == null;
    if (isNew) u = new UserState();
    long before = u.balance;
    long day = SeedRules.localDay(e);
    long delta = 0;
    long earnedDelta = 0;
    boolean applied = true;
    switch (e.type()) {
      case "purchase" -> {
        delta = SeedRules.purchasePoints(e, u.lifetimeEarned, day == u.earnedDay ? u.earnedToday : 0);
        earnedDelta = delta;
      }
      case "redeem" -> {
        applied = SeedRules.covers(u.balance, (long) e.amount());
        delta = -(long) e.amount();
      }
      case "refund" -> {
        long back = SeedRules.refundPoints(e.amount(), purchase);
        delta = -back;
        earnedDelta = -back;
      }
      default -> { // adjust: only a debit is checked
        delta = (long) e.amount();
        applied = delta >= 0 || SeedRules.covers(u.balance, -delta);
      }
    }
    if (applied) {
      u.balance += delta;
      u.lifetimeEarned += earnedDelta;
      // Only earning counts towards the per-day cap; clawbacks do not give cap room back.
      if (earnedDelta > 0 && day >= u.earnedDay) {
        if (day > u.earnedDay) {
          u.earnedDay = day;
          u.earnedToday = 0;
        }
        u.earnedToday += earnedDelta;
      }
      if (e.type().equals("refund")) {
        purchase.amountRefunded += e.amount();
        purchase.pointsRefunded += -delta;
        eventIds.put(e.userId() + "/" + e.originalEventId(), purchase);
      }
    }
    if (idKey != null) {
      EventRecord r = seen != null ? seen : new EventRecord();
      if (applied && e.type().equals("purchase")) {
        r.purchase = true;
        r.amount = e.amount();
        r.pointsEarned = delta;
      }
      r.addSeen(e.timestampMs());
      eventIds.put(idKey, r);
    }
    if (applied || isNew) users.put(e.userId(), u);
    if (isNew || u.balance != before) context.forward(new Record<>(e.userId(), u.balance, record.timestamp()));
  }
}
