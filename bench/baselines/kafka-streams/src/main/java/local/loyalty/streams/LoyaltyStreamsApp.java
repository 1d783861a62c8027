package local.loyalty.streams;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.LongSerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * The benchmark's Kafka Streams baseline: the seed's rules over the event topic, each user's state in a
 * persistent (RocksDB) key-value store, each changed balance to the output topic, exactly_once_v2 with
 * the default commit interval. Runs until SIGTERM; then prints the invalid and duplicate counts.
 *   java -cp target/classes:target/lib/* local.loyalty.streams.LoyaltyStreamsApp \
 *     --brokers 127.0.0.1:9092 --topic T --output T.balances --app-id A --state-dir /tmp/x --threads 2
 */
public final class LoyaltyStreamsApp {
  private LoyaltyStreamsApp() {}

  public static void main(String[] args) throws InterruptedException {
    Map<String, String> a = Args.parse(args);
    Topology topology = new Topology();
    topology.addSource("events", new StringDeserializer(), new ByteArrayDeserializer(), Args.required(a, "topic"));
    topology.addProcessor("balances", BalanceProcessor::new, "events");
    topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(BalanceProcessor.USERS), Serdes.String(), UserState.SERDE), "balances");
    topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(BalanceProcessor.EVENT_IDS), Serdes.String(), EventRecord.SERDE), "balances");
    topology.addSink("balances-out", Args.required(a, "output"), new StringSerializer(), new LongSerializer(), "balances");

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, Args.required(a, "app-id"));
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, Args.required(a, "brokers"));
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(a.getOrDefault("threads", "1")));
    p.put(StreamsConfig.STATE_DIR_CONFIG, Args.required(a, "state-dir"));

    KafkaStreams streams = new KafkaStreams(topology, p);
    CountDownLatch closed = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      // Leave the group on close (Streams does not by default), so the bench can delete the group right after.
      streams.close(CloseOptions.timeout(Duration.ofSeconds(30)).withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
      System.err.printf("kafka-streams: invalid=%d duplicates=%d%n", BalanceProcessor.INVALID.get(), BalanceProcessor.DUPLICATES.get());
      closed.countDown();
    }));
    streams.setUncaughtExceptionHandler(e -> {
      System.err.println("kafka-streams: stream thread failed: " + e);
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) System.err.println("kafka-streams: state " + now);
    });
    streams.start();
    closed.await();
  }

  /** "--name value" pairs. */
  static final class Args {
    private Args() {}

    static Map<String, String> parse(String[] args) {
      Map<String, String> out = new HashMap<>();
      for (int i = 0; i + 1 < args.length; i += 2) {
        if (!args[i].startsWith("--")) throw new IllegalArgumentException("expected --name value, got " + args[i]);
        out.put(args[i].substring(2), args[i + 1]);
      }
      return out;
    }

    static String required(Map<String, String> a, String name) {
      String v = a.get(name);
      if (v == null) throw new IllegalArgumentException("missing --" + name);
      return v;
    }
  }
}
