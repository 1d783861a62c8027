import { ExpectedBalances } from '../../../tools/simulator/expected-balances.js';
import { generateMessages, type GeneratorOptions, type SimulatedMessage } from '../../../tools/simulator/generator.js';
import { produceMessages } from '../../../tools/simulator/produce.js';
import type { Series } from './freshness.js';

export interface SteadyLoad {
  /** The independent replay of everything produced. */
  expected: ExpectedBalances;
  /** [time, acknowledged so far], about once a second. */
  produced: Series;
  /** Resolves with the number of messages produced once the load ends. */
  done: Promise<number>;
  /** Ends the load early (what was produced so far stays counted). */
  stop: () => void;
}

/** Produces `rate` events/s for `seconds` in the background, feeding the replay as it goes. */
export function startSteadyLoad(
  brokers: string,
  topic: string,
  rate: number,
  seconds: number,
  gen: GeneratorOptions,
): SteadyLoad {
  const expected = new ExpectedBalances();
  const produced: Series = [[Date.now(), 0]];
  let stopped = false;
  const stream = function* (): Generator<SimulatedMessage> {
    for (const m of generateMessages(Math.round(rate * seconds), gen)) {
      if (stopped) return;
      expected.add(m);
      yield m;
    }
  };
  const done = produceMessages(brokers, topic, stream(), {
    ratePerSec: rate,
    batchSize: Math.max(100, Math.min(2000, Math.round(rate / 10))),
    onProgress: (p) => produced.push([Date.now(), p.sent]),
  }).then((p) => {
    produced.push([Date.now(), p.sent]);
    return p.sent;
  });
  return { expected, produced, done, stop: () => (stopped = true) };
}
