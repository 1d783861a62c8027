import { describe, expect, it } from 'vitest';
import { BinaryCopyBuffer, numericDigits } from '../../../src/store/copy-binary.js';

describe('numericDigits', () => {
  it("lays a number out in base-10000 groups around the point, with String's scale", () => {
    expect(numericDigits(12.5)).toEqual({ negative: false, groups: [12, 5000], weight: 0, scale: 1 });
    expect(numericDigits(1e21)).toEqual({ negative: false, groups: [10], weight: 5, scale: 0 });
    expect(numericDigits(0.0001)).toEqual({ negative: false, groups: [1], weight: -1, scale: 4 });
    expect(numericDigits(1e-7)).toEqual({ negative: false, groups: [10], weight: -2, scale: 7 });
    expect(numericDigits(-123456789.5)).toEqual({ negative: true, groups: [1, 2345, 6789, 5000], weight: 2, scale: 1 });
    expect(numericDigits(0)).toEqual({ negative: false, groups: [], weight: 0, scale: 0 });
    expect(() => numericDigits(Number.NaN)).toThrow(/not finite/);
  });
});

describe('BinaryCopyBuffer', () => {
  it('frames rows with the signature, field lengths and the trailer', () => {
    const b = new BinaryCopyBuffer(8);
    expect(b.bytes().length).toBe(0); // no rows: nothing to send
    b.row(3).int32(-2).text('é').null();
    const out = b.bytes();
    expect(out.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
    expect([...out.subarray(19)]).toEqual([
      0,
      3, // fields
      0,
      0,
      0,
      4,
      0xff,
      0xff,
      0xff,
      0xfe, // int32 -2
      0,
      0,
      0,
      2,
      0xc3,
      0xa9, // 'é' in UTF-8
      0xff,
      0xff,
      0xff,
      0xff, // NULL
      0xff,
      0xff, // trailer
    ]);
    b.reset();
    expect(b.rowCount).toBe(0);
    expect(b.bytes().length).toBe(0);
  });

  it('writes int8 as two halves, negatives included', () => {
    const b = new BinaryCopyBuffer();
    b.row(2)
      .int64(-1)
      .int64(2 ** 53 - 1);
    expect(b.bytes().subarray(21, 45).toString('hex')).toBe('00000008ffffffffffffffff' + '00000008001fffffffffffff');
  });
});
