/**
 * A batch of one partition's messages packed into one ArrayBuffer, so a batch crosses
 * to its worker thread by transfer, after exactly one copy of the message bytes.
 * Layout: all keys' and values' bytes back to back; per message, its offset and the
 * start/length of its key and value (length -1 for a null key or value).
 */
export interface PackedBatch {
  count: number;
  bytes: ArrayBuffer;
  offsets: Float64Array;
  /** [keyStart, keyLength, valueStart, valueLength] per message. */
  spans: Int32Array;
}

export interface RawMessage {
  offset: number;
  key: Uint8Array | null | undefined;
  value: Uint8Array | null | undefined;
}

export function packBatch(messages: readonly RawMessage[]): PackedBatch {
  let total = 0;
  for (const m of messages) total += (m.key?.byteLength ?? 0) + (m.value?.byteLength ?? 0);
  const bytes = new ArrayBuffer(total);
  const view = new Uint8Array(bytes);
  const offsets = new Float64Array(messages.length);
  const spans = new Int32Array(messages.length * 4);
  let at = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    offsets[i] = m.offset;
    at = place(view, spans, i * 4, at, m.key);
    at = place(view, spans, i * 4 + 2, at, m.value);
  }
  return { count: messages.length, bytes, offsets, spans };
}

function place(view: Uint8Array, spans: Int32Array, slot: number, at: number, data: Uint8Array | null | undefined): number {
  if (data === null || data === undefined) {
    spans[slot] = at;
    spans[slot + 1] = -1;
    return at;
  }
  view.set(data, at);
  spans[slot] = at;
  spans[slot + 1] = data.byteLength;
  return at + data.byteLength;
}

export function transferList(batch: PackedBatch): ArrayBuffer[] {
  return [batch.bytes, batch.offsets.buffer as ArrayBuffer, batch.spans.buffer as ArrayBuffer];
}

/** Views (no copies) of message i's key and value. */
export function keyAt(batch: PackedBatch, view: Uint8Array, i: number): Uint8Array | null {
  const len = batch.spans[i * 4 + 1]!;
  return len < 0 ? null : view.subarray(batch.spans[i * 4]!, batch.spans[i * 4]! + len);
}

export function valueAt(batch: PackedBatch, view: Uint8Array, i: number): Uint8Array | null {
  const len = batch.spans[i * 4 + 3]!;
  return len < 0 ? null : view.subarray(batch.spans[i * 4 + 2]!, batch.spans[i * 4 + 2]! + len);
}
