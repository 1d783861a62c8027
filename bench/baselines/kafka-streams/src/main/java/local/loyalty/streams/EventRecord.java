package local.loyalty.streams;

import java.nio.ByteBuffer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * What the "event-ids" store remembers per (user, given event id): the timestamps it was seen with (a
 * repeat within the idempotency window is a duplicate) and, for a purchase, what refunds need.
 */
final class EventRecord {
  long[] seenAt = new long[0];
  boolean purchase;
  double amount;
  long pointsEarned;
  double amountRefunded;
  long pointsRefunded;

  boolean seenWithin(long at, long windowMs) {
    for (long t : seenAt) if (Math.abs(t - at) <= windowMs) return true;
    return false;
  }

  void addSeen(long at) {
    long[] next = java.util.Arrays.copyOf(seenAt, seenAt.length + 1);
    next[seenAt.length] = at;
    seenAt = next;
  }

  static final Serde<EventRecord> SERDE = Serdes.serdeFrom(serializer(), deserializer());

  private static Serializer<EventRecord> serializer() {
    return (topic, r) -> {
      if (r == null) return null;
      ByteBuffer b = ByteBuffer.allocate(4 + 8 * r.seenAt.length + 1 + 32);
      b.putInt(r.seenAt.length);
      for (long t : r.seenAt) b.putLong(t);
      b.put((byte) (r.purchase ? 1 : 0)).putDouble(r.amount).putLong(r.pointsEarned).putDouble(r.amountRefunded).putLong(r.pointsRefunded);
      return b.array();
    };
  }

  private static Deserializer<EventRecord> deserializer() {
    return (topic, bytes) -> {
      if (bytes == null) return null;
      ByteBuffer b = ByteBuffer.wrap(bytes);
      EventRecord r = new EventRecord();
      r.seenAt = new long[b.getInt()];
      for (int i = 0; i < r.seenAt.length; i++) r.seenAt[i] = b.getLong();
      r.purchase = b.get() == 1;
      r.amount = b.getDouble();
      r.pointsEarned = b.getLong();
      r.amountRefunded = b.getDouble();
      r.pointsRefunded = b.getLong();
      return r;
    };
  }
}
