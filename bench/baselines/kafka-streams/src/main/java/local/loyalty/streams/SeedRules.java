package local.loyalty.streams;

/**
 * The seed's rules as config/rules.yaml ships them, with the engine's arithmetic (src/rules/evaluate.ts,
 * config/rules.schema.md): floor(amount) points per purchase (rounded exactly, per item when a purchase
 * has items), x2 on the timestamp's own local Saturday or Sunday, x the tier multiplier, floored once
 * (with the 1e-12 noise snap), then the per-event and per-user-per-day caps; redeems never below zero;
 * refunds take back the refunded share of what the purchase earned.
 */
final class SeedRules {
  static final long DAY_MS = 86_400_000L;
  static final long IDEMPOTENCY_WINDOW_MS = 7 * DAY_MS;
  private static final double MINIMUM_SPEND = 0;
  private static final double WEEKEND_MULTIPLIER = 2;
  /** null in the file: uncapped. */
  private static final long CAP_PER_EVENT = Long.MAX_VALUE;
  private static final long CAP_PER_USER_PER_DAY = Long.MAX_VALUE;
  private static final long[] TIER_MINS = {0};
  private static final double[] TIER_MULTIPLIERS = {1};
  private static final boolean ALLOW_NEGATIVE = false;

  private SeedRules() {}

  /** The event's calendar day in its own offset, as days since 1970-01-01. */
  static long localDay(LoyaltyEvent e) {
    return Math.floorDiv(e.timestampMs() + e.utcOffsetMinutes() * 60_000L, DAY_MS);
  }

  private static boolean weekend(long day) {
    long dow = Math.floorMod(day + 4, 7); // 1970-01-01 was a Thursday; 0 = Sunday
    return dow == 0 || dow == 6;
  }

  private static double tierMultiplier(long lifetimeEarned) {
    for (int i = TIER_MINS.length - 1; i >= 0; i--) if (lifetimeEarned >= TIER_MINS[i]) return TIER_MULTIPLIERS[i];
    return 1;
  }

  /** Floor after a multiplication: a product within a relative 1e-12 of a whole number is that number. */
  static long floorSnapped(double x) {
    double r = Math.rint(x);
    return (long) Math.floor(Math.abs(x - r) <= 1e-12 * Math.max(1, Math.abs(x)) ? r : x);
  }

  /** Whole points a purchase earns, given the user's lifetime earned and what they earned on its local day. */
  static long purchasePoints(LoyaltyEvent e, long lifetimeEarned, long earnedToday) {
    if (e.amount() < MINIMUM_SPEND) return 0;
    double m = weekend(localDay(e)) ? WEEKEND_MULTIPLIER : 1;
    double raw;
    if (e.itemAmounts() != null) {
      raw = 0;
      for (double a : e.itemAmounts()) raw += Math.floor(a) * m;
    } else {
      raw = Math.floor(e.amount()) * m;
    }
    long points = floorSnapped(raw * tierMultiplier(lifetimeEarned));
    if (points > CAP_PER_EVENT) points = CAP_PER_EVENT;
    long room = CAP_PER_USER_PER_DAY == Long.MAX_VALUE ? Long.MAX_VALUE : CAP_PER_USER_PER_DAY - earnedToday;
    if (points > room) points = Math.max(0, room);
    return points;
  }

  /** A redeem (or a debit adjust) that the balance cannot cover is rejected. */
  static boolean covers(long balance, long debit) {
    return ALLOW_NEGATIVE || balance >= debit;
  }

  /** Points a refund takes back: the purchase's total taken back reaches its refunded share, never more than earned. */
  static long refundPoints(double refundAmount, EventRecord p) {
    double share = p.amount > 0 ? Math.min(1, (p.amountRefunded + refundAmount) / p.amount) : 1;
    long target = Math.min(p.pointsEarned, floorSnapped(p.pointsEarned * share));
    return Math.max(0, target - p.pointsRefunded);
  }
}
