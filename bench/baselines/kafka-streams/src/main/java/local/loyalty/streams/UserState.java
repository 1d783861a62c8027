package local.loyalty.streams;

import java.nio.ByteBuffer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/** One user's state in the "users" store: balance, lifetime earned (tiers) and the per-day cap's count. */
final class UserState {
  long balance;
  long lifetimeEarned;
  /** Local day (days since epoch) that earnedToday counts. */
  long earnedDay = Long.MIN_VALUE;
  long earnedToday;

  static final Serde<UserState> SERDE = Serdes.serdeFrom(serializer(), deserializer());

  private static Serializer<UserState> serializer() {
    return (topic, u) -> u == null ? null : ByteBuffer.allocate(32).putLong(u.balance).putLong(u.lifetimeEarned).putLong(u.earnedDay).putLong(u.earnedToday).array();
  }

  private static Deserializer<UserState> deserializer() {
    return (topic, bytes) -> {
      if (bytes == null) return null;
      ByteBuffer b = ByteBuffer.wrap(bytes);
      UserState u = new UserState();
      u.balance = b.getLong();
      u.lifetimeEarned = b.getLong();
      u.earnedDay = b.getLong();
      u.earnedToday = b.getLong();
      return u;
    };
  }
}
