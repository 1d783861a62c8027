import { createRandom } from '../../tools/simulator/prng.js';
import type { SimulatedMessage } from '../../tools/simulator/generator.js';

/** Poison the engine must dead-letter without stalling: every one is `bad`. */
export function hostileMessages(seed: number): SimulatedMessage[] {
  const random = createRandom(seed);
  const bytes = Buffer.alloc(256);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  const base = {
    event_id: `h-${seed}`,
    user_id: 'hostile-user',
    event_type: 'purchase',
    amount: 10,
    timestamp: '2026-11-25T10:00:00Z',
  };
  const text = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
  const bad = (value: Buffer | null, key: string | null = 'hostile-user'): SimulatedMessage => ({
    key,
    value,
    bad: true,
  });
  return [
    bad(bytes),
    bad(Buffer.alloc(1_000_000, 'x')), // a 1 MB value
    bad(Buffer.from(`${'['.repeat(20_000)}${']'.repeat(20_000)}`)), // deeply nested JSON
    bad(text({ ...base, user_id: 'bad\u0000id' }), 'bad\u0000id'), // control character in the id
    bad(text({ ...base, user_id: 'ünïcødé' }), 'ünïcødé'), // non-ASCII id
    bad(text({ ...base, event_id: 'nul\u0000id' })), // Postgres text cannot hold NUL
    bad(text({ ...base, event_type: 'gift\u0000' })), // NUL in the dead letter's detail
    bad(text({ ...base, amount: '12' })), // number as a string
    bad(text({ ...base, amount: 1e308 })),
    bad(
      Buffer.from('{"user_id":"hostile-user","event_type":"purchase","amount":NaN,"timestamp":"2026-11-25T10:00:00Z"}'),
    ),
    // Duplicate keys: JSON.parse keeps the last one, so this event claims another user than its key.
    bad(
      Buffer.from(
        '{"user_id":"hostile-user","user_id":"someone-else","event_type":"purchase","amount":5,"timestamp":"2026-11-25T10:00:00Z"}',
      ),
    ),
    bad(text({ ...base, timestamp: '10000-01-01T00:00:00Z' })),
    bad(text({ ...base, event_type: 'refund', original_event_id: 'never-bought' })), // unknown purchase
    bad(null),
  ];
}
