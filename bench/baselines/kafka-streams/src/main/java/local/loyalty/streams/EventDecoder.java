package local.loyalty.streams;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One Kafka message to an event, or null when the engine would dead-letter it (src/events/decode.ts:
 * the same checks, in the same order, with the seed rules' max_amount of 1,000,000).
 */
final class EventDecoder {
  static final int MAX_MESSAGE_BYTES = 64 * 1024;
  static final double MAX_AMOUNT = 1_000_000;
  private static final Pattern USER_ID = Pattern.compile("^[A-Za-z0-9._:@-]{1,128}$");
  private static final Set<String> TYPES = Set.of("purchase", "redeem", "refund", "adjust");
  /** Marks an optional string field that is present but invalid. */
  private static final String INVALID = new String("invalid");
  // Text after the JSON value is malformed JSON to JSON.parse: fail on it too.
  private final ObjectMapper json = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  LoyaltyEvent decode(String key, byte[] value) {
    if (value == null || value.length == 0 || value.length > MAX_MESSAGE_BYTES) return null;
    JsonNode o;
    try {
      o = json.readTree(value);
    } catch (IOException e) {
      return null;
    }
    if (o == null || !o.isObject()) return null;
    JsonNode type = o.get("event_type");
    if (type == null || !type.isTextual() || !TYPES.contains(type.textValue())) return null;
    String t = type.textValue();
    JsonNode user = o.get("user_id");
    if (user == null || !user.isTextual() || !USER_ID.matcher(user.textValue()).matches()) return null;
    String userId = user.textValue();
    // Keys decide partitions, and partitions decide who owns a user's state.
    if (!userId.equals(key)) return null;
    JsonNode amountNode = o.get("amount");
    if (amountNode == null || !amountNode.isNumber()) return null;
    double amount = amountNode.doubleValue();
    if (!Double.isFinite(amount)) return null;
    boolean whole = amount == Math.rint(amount);
    if (t.equals("adjust")) {
      if (!whole || Math.abs(amount) >= MAX_AMOUNT) return null;
    } else {
      if (amount < 0 || amount >= MAX_AMOUNT) return null;
      if (t.equals("redeem") && !whole) return null;
    }
    JsonNode ts = o.get("timestamp");
    if (ts == null || !ts.isTextual()) return null;
    Timestamps.Parsed at = Timestamps.parse(ts.textValue());
    if (at == null) return null;
    String eventId = optionalString(o, "event_id", 256);
    String category = optionalString(o, "category", 256);
    String sku = optionalString(o, "sku", 256);
    if (eventId == INVALID || category == INVALID || sku == INVALID) return null;
    double[] items = null;
    JsonNode itemsNode = o.get("items");
    if (itemsNode != null && !itemsNode.isNull()) {
      items = itemAmounts(itemsNode);
      if (items == null) return null;
    }
    String original = null;
    if (t.equals("refund")) {
      original = optionalString(o, "original_event_id", 256);
      if (original == null || original == INVALID) return null;
    }
    if (t.equals("adjust")) {
      String reason = optionalString(o, "reason", 1000);
      if (reason == null || reason == INVALID) return null;
    }
    return new LoyaltyEvent(eventId, userId, t, amount, at.ms(), at.offsetMinutes(), items, original);
  }

  /** The string, null when absent (or JSON null), INVALID when not a string of 1..max characters without NUL. */
  private static String optionalString(JsonNode o, String field, int max) {
    JsonNode v = o.get(field);
    if (v == null || v.isNull()) return null;
    if (!v.isTextual()) return INVALID;
    String s = v.textValue();
    if (s.isEmpty() || s.length() > max || s.indexOf('\u0000') >= 0) return INVALID;
    return s;
  }

  /** Item amounts (categories and skus are checked but not kept: no seed rule looks at them). */
  private static double[] itemAmounts(JsonNode items) {
    if (!items.isArray() || items.isEmpty() || items.size() > 1000) return null;
    double[] out = new double[items.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode it = items.get(i);
      if (!it.isObject()) return null;
      JsonNode a = it.get("amount");
      if (a == null || !a.isNumber()) return null;
      double amount = a.doubleValue();
      if (!Double.isFinite(amount) || amount < 0 || amount >= MAX_AMOUNT) return null;
      if (optionalString(it, "category", 256) == INVALID || optionalString(it, "sku", 256) == INVALID) return null;
      out[i] = amount;
    }
    return out;
  }
}
