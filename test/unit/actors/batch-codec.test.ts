import { describe, expect, it } from 'vitest';
import { keyAt, packBatch, transferList, valueAt } from '../../../src/actors/batch-codec.js';

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
