package local.loyalty.streams;

import java.time.LocalDateTime;
import java.time.ZoneOffset;

/** Strict RFC 3339 parsing, the same acceptance as the engine's parseTimestamp (src/events/decode.ts). */
final class Timestamps {
  private static final int[] DAYS_IN_MONTH = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

  /** Instant in ms and the offset in minutes, or null when not a valid timestamp. */
  record Parsed(long ms, int offsetMinutes) {}

  private Timestamps() {}

  private static int digits(String t, int at, int n) {
    int v = 0;
    for (int i = at; i < at + n; i++) {
      int c = t.charAt(i) - '0';
      if (c < 0 || c > 9) return -1;
      v = v * 10 + c;
    }
    return v;
  }

  static Parsed parse(String t) {
    if (t.length() < 20 || t.length() > 35) return null;
    int year = digits(t, 0, 4), month = digits(t, 5, 2), day = digits(t, 8, 2);
    int hour = digits(t, 11, 2), minute = digits(t, 14, 2), second = digits(t, 17, 2);
    if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return null;
    char sep = t.charAt(10);
    if (t.charAt(4) != '-' || t.charAt(7) != '-' || (sep != 'T' && sep != 't') || t.charAt(13) != ':' || t.charAt(16) != ':') return null;
    if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
    boolean leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > (month == 2 && leap ? 29 : DAYS_IN_MONTH[month - 1])) return null;
    int at = 19;
    int millis = 0;
    if (t.charAt(at) == '.') {
      int start = ++at;
      while (at < t.length() && at - start < 10 && digits(t, at, 1) >= 0) at++;
      int n = at - start;
      if (n < 1 || n > 9) return null;
      millis = digits(t, start, Math.min(3, n)) * (n == 1 ? 100 : n == 2 ? 10 : 1);
    }
    if (at >= t.length()) return null;
    int offsetMinutes;
    char z = t.charAt(at);
    if (z == 'Z' || z == 'z') {
      if (at + 1 != t.length()) return null;
      offsetMinutes = 0;
    } else if (z == '+' || z == '-') {
      if (at + 6 != t.length() || t.charAt(at + 3) != ':') return null;
      int oh = digits(t, at + 1, 2), om = digits(t, at + 4, 2);
      if (oh < 0 || om < 0 || oh > 23 || om > 59) return null;
      offsetMinutes = (z == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
      return null;
    }
    // A leap second (:60) counts as :59 of the same minute, as in the engine.
    long localMs = LocalDateTime.of(year, month, day, hour, minute, Math.min(second, 59)).toInstant(ZoneOffset.UTC).toEpochMilli() + millis;
    return new Parsed(localMs - offsetMinutes * 60_000L, offsetMinutes);
  }
}
