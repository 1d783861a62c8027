import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ensureTopics } from '../../src/kafka/admin.js';
import { applyStackEnv } from '../stack/env-file.js';
import { ExpectedBalances } from './expected-balances.js';
import { generateMessages, type SimulatedMessage } from './generator.js';
import { produceMessages } from './produce.js';
import { LIFECYCLE_RULES, lifecycleEvents, lifecycleMessage } from './lifecycle-stream.js';
import { errorText } from '../../src/errors.js';

const USAGE = `usage: npm run produce -- (--events N | --rate R --duration S) [--users U] [--skew zipf:S | --skew cycle]
       [--redeem-ratio F] [--refund-ratio F] [--duplicate-ratio F] [--bad-ratio F] [--seed N] [--topic T] [--partitions P] [--expect FILE]
  --skew cycle: users in turn, so N events over N users touch exactly N distinct users
       npm run produce -- --lifecycle --events N [--users U] [--days D] [--seed N] [--topic T] [--partitions P] [--rules-out FILE]
  --lifecycle: purchases, redeems, refunds and adjusts (some with expires_at, some late) over D days of event time
  (default 730) ending today, for the points lifecycle; users pinned to partitions. Run the engine with the rules
  written by --rules-out (a lifecycle: block) and LEDGER_RETENTION above D days, and CLOCK_TICK_MS=0 while it drains
  a stream of past event times (docs/lifecycle.md)`;

function num(name: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`--${name} must be a number in [${min}, ${max}], got "${v}"`);
  return n;
}

async function main(): Promise<void> {
  applyStackEnv();
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      users: { type: 'string' },
      skew: { type: 'string' },
      'redeem-ratio': { type: 'string' },
      'refund-ratio': { type: 'string' },
      'duplicate-ratio': { type: 'string' },
      'bad-ratio': { type: 'string' },
      seed: { type: 'string' },
      topic: { type: 'string' },
      partitions: { type: 'string' },
      expect: { type: 'string' },
      lifecycle: { type: 'boolean' },
      days: { type: 'string' },
      'rules-out': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: run "npm run stack" first');
  const topic = values.topic ?? process.env.KAFKA_TOPIC ?? 'loyalty-events';
  const rate = values.rate === undefined ? undefined : num('rate', values.rate, 0, 1, 10_000_000);
  const count =
    values.events !== undefined
      ? num('events', values.events, 0, 1, 1e9)
      : rate !== undefined
        ? Math.round(rate * num('duration', values.duration, 10, 1, 86_400))
        : NaN;
  if (!Number.isFinite(count)) throw new Error(`give --events N or --rate R --duration S\n${USAGE}`);
  if (values.lifecycle === true) {
    await produceLifecycle(brokers, topic, count, values);
    return;
  }
  const skewText = values.skew ?? 'zipf:1.1';
  if (!/^zipf:\d+(\.\d+)?$/.test(skewText) && skewText !== 'cycle')
    throw new Error(`--skew must look like zipf:1.1 (or be cycle), got "${skewText}"`);
  const opts = {
    users: num('users', values.users, 100_000, 1, 100_000_000),
    skew: skewText === 'cycle' ? 0 : Number(skewText.slice(5)),
    cycleUsers: skewText === 'cycle',
    refundRatio: num('refund-ratio', values['refund-ratio'], 0, 0, 1),
    duplicateRatio: num('duplicate-ratio', values['duplicate-ratio'], 0, 0, 1),
    redeemRatio: num('redeem-ratio', values['redeem-ratio'], 0.2, 0, 1),
    badRatio: num('bad-ratio', values['bad-ratio'], 0.001, 0, 1),
    seed: num('seed', values.seed, 42, 0, 2 ** 31),
  };
  await ensureTopics(brokers, [
    { topic, partitions: num('partitions', values.partitions ?? process.env.KAFKA_TOPIC_PARTITIONS, 12, 1, 10_000) },
  ]);
  const expected = values.expect ? new ExpectedBalances() : null;
  const stream = function* (): Generator<SimulatedMessage> {
    for (const m of generateMessages(count, opts)) {
      expected?.add(m);
      yield m;
    }
  };
  console.log(
    `[produce] ${count} events to ${topic} (${opts.users} users, ${skewText}, seed ${opts.seed}${rate ? `, ${rate}/s` : ''})`,
  );
  const result = await produceMessages(brokers, topic, stream(), {
    ...(rate !== undefined && { ratePerSec: rate }),
    onProgress: (p) =>
      process.stdout.write(
        `\r[produce] sent ${p.sent}/${count}  ${Math.round(p.sent / (p.elapsedMs / 1000))}/s  errors ${p.errors}   `,
      ),
  });
  process.stdout.write('\n');
  console.log(
    `[produce] done: ${result.sent} sent in ${(result.elapsedMs / 1000).toFixed(1)} s (${Math.round(result.sent / (result.elapsedMs / 1000))}/s), ${result.errors} errors`,
  );
  if (expected && values.expect) {
    writeFileSync(
      values.expect,
      JSON.stringify({
        seed: opts.seed,
        events: count,
        bad: expected.bad,
        applied: expected.applied,
        rejected: expected.rejected,
        balances: Object.fromEntries(expected.balances),
      }),
    );
    console.log(`[produce] expected balances of ${expected.balances.size} users written to ${values.expect}`);
  }
}

/** `--lifecycle`: a stream of tools/simulator/lifecycle-stream.ts. */
async function produceLifecycle(
  brokers: string,
  topic: string,
  count: number,
  values: Record<string, string | boolean | undefined>,
): Promise<void> {
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] : undefined);
  if (str('expect') !== undefined)
    throw new Error('--expect replays the seed rules only; it does not apply to --lifecycle');
  const partitions = num('partitions', str('partitions') ?? process.env.KAFKA_TOPIC_PARTITIONS, 12, 1, 10_000);
  await ensureTopics(brokers, [{ topic, partitions }]);
  const days = num('days', str('days'), 730, 1, 36_500);
  const o = {
    events: count,
    users: num('users', str('users'), 10_000, 1, 100_000_000),
    partitions,
    days,
    endMs: Math.floor(Date.now() / 86_400_000) * 86_400_000,
    seed: num('seed', str('seed'), 42, 0, 2 ** 31),
  };
  const rulesOut = str('rules-out');
  if (rulesOut !== undefined) {
    writeFileSync(rulesOut, LIFECYCLE_RULES);
    console.log(`[produce] rules for this stream written to ${rulesOut}`);
  }
  console.log(`[produce] ${count} lifecycle events over ${days} days to ${topic} (${o.users} users, seed ${o.seed})`);
  const stream = function* (): Generator<SimulatedMessage> {
    for (const e of lifecycleEvents(o)) yield lifecycleMessage(e);
  };
  const result = await produceMessages(brokers, topic, stream(), {
    onProgress: (p) => process.stdout.write(`\r[produce] sent ${p.sent}/${count}  errors ${p.errors}   `),
  });
  process.stdout.write('\n');
  console.log(`[produce] done: ${result.sent} sent, ${result.errors} errors`);
}

main().catch((e: unknown) => {
  console.error(`[produce] error: ${errorText(e)}`);
  process.exit(1);
});
