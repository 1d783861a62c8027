package local.loyalty.streams;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads the output topic to its end (committed transactions only) and prints each user's last balance,
 * "user<TAB>balance" per line, for the bench to compare with the independent replay.
 *   java -cp ... local.loyalty.streams.BalancesDump --brokers 127.0.0.1:9092 --topic T.balances
 */
public final class BalancesDump {
  private BalancesDump() {}

  public static void main(String[] args) throws IOException {
    Map<String, String> a = LoyaltyStreamsApp.Args.parse(args);
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, LoyaltyStreamsApp.Args.required(a, "brokers"));
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 10_000);
    Map<String, Long> last = new HashMap<>();
    try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(p, new StringDeserializer(), new LongDeserializer())) {
      String topic = LoyaltyStreamsApp.Args.required(a, "topic");
      List<TopicPartition> parts = c.partitionsFor(topic).stream().map(i -> new TopicPartition(topic, i.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      // The last stable offsets once every transaction has ended: the position passes the commit markers too.
      Map<TopicPartition, Long> end = c.endOffsets(parts);
      while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(200))) last.put(r.key(), r.value());
      }
    }
    BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16);
    for (Map.Entry<String, Long> e : last.entrySet()) out.append(e.getKey()).append('\t').append(Long.toString(e.getValue())).append('\n');
    out.flush();
  }
}
