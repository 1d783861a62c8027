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

/**
 * Packs messages as they arrive, so a message waiting for its actor costs its bytes and
 * 40 bytes of index, not a JS object and two Buffers (which, 20k deep on 12 partitions, was
 * a large share of the main thread's memory). Holds at most `capacity` messages.
 */
export class BatchBuilder {
  count = 0;
  private view: Uint8Array;
  private used = 0;
  // Grown as messages come (up to capacity): under a steady stream most batches hold a few hundred
  // messages, and zeroing index arrays for 5,000 at every batch showed in the main thread's profile.
  private offsets: Float64Array;
  private spans: Int32Array;

  constructor(
    readonly capacity: number,
    initialBytes = 64 * 1024,
  ) {
    this.view = new Uint8Array(initialBytes);
    const slots = Math.min(capacity, 256);
    this.offsets = new Float64Array(slots);
    this.spans = new Int32Array(slots * 4);
  }

  /** Bytes of keys and values held so far. */
  get bytesUsed(): number {
    return this.used;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** A clock tick (src/kafka/clock-tick.ts): no key, its time as the value; the actor moves the clock and nothing else. */
  pushTick(offset: number, value: Uint8Array | null | undefined): void {
    this.push(offset, null, value);
    this.spans[(this.count - 1) * 4 + 1] = TICK_KEY_LENGTH;
  }

  push(offset: number, key: Uint8Array | null | undefined, value: Uint8Array | null | undefined): void {
    if (this.count === this.offsets.length) this.growIndex();
    const i = this.count++;
    this.offsets[i] = offset;
    this.place(i * 4, key);
    this.place(i * 4 + 2, value);
  }

  /** The batch; the builder must not be used afterwards (its buffers are handed over). */
  finish(): PackedBatch {
    return { count: this.count, bytes: this.view.buffer as ArrayBuffer, offsets: this.offsets, spans: this.spans };
  }

  private growIndex(): void {
    const slots = Math.min(this.capacity, this.offsets.length * 2);
    if (slots <= this.offsets.length) throw new Error(`batch full: ${this.capacity} messages`);
    const offsets = new Float64Array(slots);
    offsets.set(this.offsets);
    const spans = new Int32Array(slots * 4);
    spans.set(this.spans);
    this.offsets = offsets;
    this.spans = spans;
  }

  private place(slot: number, data: Uint8Array | null | undefined): void {
    this.spans[slot] = this.used;
    if (data === null || data === undefined) {
      this.spans[slot + 1] = -1;
      return;
    }
    if (this.used + data.byteLength > this.view.byteLength) {
      let size = Math.max(1024, this.view.byteLength * 2);
      while (size < this.used + data.byteLength) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.view.subarray(0, this.used));
      this.view = next;
    }
    this.view.set(data, this.used);
    this.spans[slot + 1] = data.byteLength;
    this.used += data.byteLength;
  }
}

/** The key length that marks a tick (a real key's length is >= 0, a missing key's -1). */
const TICK_KEY_LENGTH = -2;

/** True when message i is a clock tick, not an event. */
export const isTick = (batch: PackedBatch, i: number): boolean => batch.spans[i * 4 + 1] === TICK_KEY_LENGTH;

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
