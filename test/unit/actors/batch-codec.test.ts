import { describe, expect, it } from 'vitest';
import { BatchBuilder, isTick, keyAt, transferList, valueAt } from '../../../src/actors/batch-codec.js';
import { packBatch } from '../../support/pack-batch.js';

describe('packBatch', () => {
  it('packs keys, values and offsets into one buffer and reads them back without copies', () => {
    const msgs = [
      { offset: 10, key: Buffer.from('alice'), value: Buffer.from('{"a":1}') },
      { offset: 11, key: null, value: Buffer.from('') },
      { offset: 2 ** 40, key: Buffer.from('bob'), value: null },
    ];
    const b = packBatch(msgs);
    const view = new Uint8Array(b.bytes);
    expect(b.count).toBe(3);
    expect(b.bytes.byteLength).toBe(5 + 7 + 3);
    expect(Array.from(b.offsets)).toEqual([10, 11, 2 ** 40]);
    expect(Buffer.from(keyAt(b, view, 0)!).toString()).toBe('alice');
    expect(Buffer.from(valueAt(b, view, 0)!).toString()).toBe('{"a":1}');
    expect(keyAt(b, view, 1)).toBeNull();
    expect(valueAt(b, view, 1)!.byteLength).toBe(0);
    expect(valueAt(b, view, 2)).toBeNull();
    expect(valueAt(b, view, 0)!.buffer).toBe(b.bytes);
  });

  it('lists exactly three distinct buffers to transfer', () => {
    const b = packBatch([{ offset: 1, key: Buffer.from('k'), value: Buffer.from('v') }]);
    const t = transferList(b);
    expect(new Set(t).size).toBe(3);
  });
});

describe('BatchBuilder', () => {
  it('packs messages as they come, growing its buffer, and knows when it is full', () => {
    const b = new BatchBuilder(3, 4);
    expect(b.full).toBe(false);
    b.push(5, Buffer.from('k1'), Buffer.from('x'.repeat(3000)));
    b.push(6, null, Buffer.from('v'));
    b.push(7, Buffer.from('k3'), null);
    expect(b.full).toBe(true);
    expect(b.bytesUsed).toBe(2 + 3000 + 1 + 2);
    const batch = b.finish();
    const view = new Uint8Array(batch.bytes);
    expect(batch.count).toBe(3);
    expect(Array.from(batch.offsets)).toEqual([5, 6, 7]);
    expect(Buffer.from(valueAt(batch, view, 0)!).toString()).toBe('x'.repeat(3000));
    expect(keyAt(batch, view, 1)).toBeNull();
    expect(Buffer.from(valueAt(batch, view, 1)!).toString()).toBe('v');
    expect(Buffer.from(keyAt(batch, view, 2)!).toString()).toBe('k3');
    expect(valueAt(batch, view, 2)).toBeNull();
  });

  it('grows its index past the first 256 messages up to its capacity, keeping every offset, key, value and tick', () => {
    const b = new BatchBuilder(600, 16);
    for (let i = 0; i < 600; i++) {
      if (i === 300) b.pushTick(i, Buffer.from('1700000000000'));
      else b.push(i, Buffer.from(`k${i}`), Buffer.from(`v${i}`));
    }
    expect(b.full).toBe(true);
    expect(() => b.push(600, null, null)).toThrow(/batch full/);
    const batch = b.finish();
    const view = new Uint8Array(batch.bytes);
    expect(batch.count).toBe(600);
    for (const i of [0, 255, 256, 511, 512, 599]) {
      expect(batch.offsets[i]).toBe(i);
      expect(Buffer.from(keyAt(batch, view, i)!).toString()).toBe(`k${i}`);
      expect(Buffer.from(valueAt(batch, view, i)!).toString()).toBe(`v${i}`);
    }
    expect(isTick(batch, 300)).toBe(true);
    expect(isTick(batch, 299)).toBe(false);
  });
});
