import { BatchBuilder, type PackedBatch } from '../../src/actors/batch-codec.js';

/** A message as tests write it, before packing. */
export interface RawMessage {
  offset: number;
  key: Uint8Array | null | undefined;
  value: Uint8Array | null | undefined;
}

/** Packs a whole list at once, as the consumer packs messages one by one on arrival. */
export function packBatch(messages: readonly RawMessage[]): PackedBatch {
  let total = 0;
  for (const m of messages) total += (m.key?.byteLength ?? 0) + (m.value?.byteLength ?? 0);
  const b = new BatchBuilder(messages.length, total);
  for (const m of messages) b.push(m.offset, m.key, m.value);
  return b.finish();
}
