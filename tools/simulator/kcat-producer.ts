import { spawn, spawnSync } from 'node:child_process';

/** kcat's name on this machine, if installed. */
export function kcatBinary(): string | undefined {
  return ['kcat', 'kafkacat'].find((b) => spawnSync('which', [b]).status === 0);
}

/** A message as kcat can take it: one line, key and value separated by a tab. */
export interface LineMessage {
  key: string | null;
  value: Buffer | string | null;
}

/**
 * Produces messages at a fixed rate through kcat (librdkafka in C): a load generator shares the cores with
 * the engine, Kafka and Postgres, and the JavaScript producer could not reach 50k events/s beside them (nor
 * the soak's 37k). `messages` may be an array or an endless generator that ends when the load should: it is
 * read only as fast as the rate, so a generator can decide by the clock. One line per message, key and value
 * separated by a tab (user ids have none, and JSON text never holds a raw tab or newline). Same producer
 * settings as the simulator: idempotent, acks=all, lz4. kcat reports a failed delivery only on stderr: callers
 * count what the topic holds.
 */
export async function produceWithKcat(
  bin: string,
  brokers: string,
  topic: string,
  messages: Iterable<LineMessage>,
  ratePerSec: number,
): Promise<{ sent: number; seconds: number }> {
  const child = spawn(
    bin,
    [
      '-P',
      '-b',
      brokers,
      '-t',
      topic,
      '-K',
      '\t',
      '-X',
      'enable.idempotence=true',
      '-X',
      'acks=all',
      '-X',
      'compression.type=lz4',
      '-X',
      'linger.ms=5',
    ],
    {
      stdio: ['pipe', 'ignore', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const started = performance.now();
  const tickMs = 20;
  const source = messages[Symbol.iterator]();
  let sent = 0;
  let ended = false;
  while (!ended) {
    // Whatever is due by now, as one write.
    const due = Math.floor(((performance.now() - started) / 1000) * ratePerSec);
    const lines: string[] = [];
    for (; sent < due; sent++) {
      const next = source.next();
      if (next.done === true) {
        ended = true;
        break;
      }
      const m = next.value;
      const value = typeof m.value === 'string' ? m.value : (m.value?.toString('utf8') ?? null);
      if (m.key === null || value === null || m.key.includes('\t') || value.includes('\n'))
        throw new Error('kcat producer: message cannot be one line');
      lines.push(`${m.key}\t${value}\n`);
    }
    if (lines.length > 0 && !child.stdin.write(lines.join(''))) await new Promise((r) => child.stdin.once('drain', r));
    if (!ended) await new Promise((r) => setTimeout(r, tickMs));
  }
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`kcat producer exited with ${code}`);
  return { sent, seconds: (performance.now() - started) / 1000 };
}
