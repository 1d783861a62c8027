import { ensureTopics, topicMessageCount } from '../src/kafka/admin.js';
import { ExpectedBalances } from '../tools/simulator/expected-balances.js';
import { generateMessages, recentMonday, type GeneratorOptions } from '../tools/simulator/generator.js';
import { produceMessages } from '../tools/simulator/produce.js';

/**
 * The kept backlog that `npm run bench:drain` and the history scenario drain, produced once and reused. Its
 * name carries the first day of its event times: the generator starts at a recent Monday, so a topic kept from
 * an earlier week holds other timestamps (the replay would differ) and is left alone for a fresh one.
 */
export async function keptDrainBacklog(
  brokers: string,
  events: number,
  users: number,
): Promise<{ topic: string; expected: () => ExpectedBalances }> {
  const startMs = recentMonday();
  // zipf 1.1 over the users, or each user in turn from 1M users up (the memory scenario's shape).
  const options: GeneratorOptions = {
    users,
    skew: 1.1,
    cycleUsers: users >= 1_000_000,
    redeemRatio: 0.2,
    badRatio: 0.001,
    seed: 2026,
    startMs,
  };
  const topic = `bench_drain_${events}_${users}_${new Date(startMs).toISOString().slice(0, 10)}`;
  await ensureTopics(brokers, [
    { topic, partitions: 12 },
    { topic: `${topic}.dlq`, partitions: 12 },
  ]);
  const held = await topicMessageCount(brokers, topic);
  if (held === 0) await produceMessages(brokers, topic, generateMessages(events, options), { batchSize: 5000 });
  else if (held !== events) throw new Error(`${topic} holds ${held} messages, not ${events}`);
  // The same seed and start give the same stream: the replay is computed only by whoever checks balances.
  return {
    topic,
    expected: () => {
      const e = new ExpectedBalances();
      for (const m of generateMessages(events, options)) e.add(m);
      return e;
    },
  };
}
