import { spawn, spawnSync } from 'node:child_process';
import type { SimulatedMessage } from '../tools/simulator/generator.js';

/** kcat's name on this machine, if installed. */
export function kcatBinary(): string | undefined {
  return ['kcat', 'kafkacat'].find((b) => spawnSync('which', [b]).status === 0);
}

/**
 * Produces pre-generated messages at a fixed rate through kcat (librdkafka in C): the steady-state
 * load generator shares the cores with the engine, Kafka and Postgres, and the JavaScript producer
 * could not reach 50k events/s beside them. One line per message, key and value separated by a tab
 * (user ids have none, and JSON text never holds a raw tab or newline). Same producer settings as
 * the simulator: idempotent, acks=all, lz4.
 */
export async function produceWithKcat(
  bin: string,
  brokers: string,
  topic: string,
  messages: SimulatedMessage[],
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
  let sent = 0;
  while (sent < messages.length) {
    // Whatever is due by now, as one write.
    const due = Math.min(messages.length, Math.floor(((performance.now() - started) / 1000) * ratePerSec));
    if (due > sent) {
      const lines: string[] = [];
      for (; sent < due; sent++) {
        const m = messages[sent]!;
        if (m.key === null || m.value === null || m.key.includes('\t') || m.value.includes(10))
          throw new Error('kcat producer: message cannot be one line');
        lines.push(`${m.key}\t${m.value.toString('utf8')}\n`);
      }
      if (!child.stdin.write(lines.join(''))) await new Promise((r) => child.stdin.once('drain', r));
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`kcat producer exited with ${code}`);
  return { sent, seconds: (performance.now() - started) / 1000 };
}
