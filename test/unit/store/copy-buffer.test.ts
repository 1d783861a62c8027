import { describe, expect, it } from 'vitest';
import { CopyBuffer } from '../../../src/store/copy-buffer.js';

describe('CopyBuffer', () => {
  it('holds exactly the UTF-8 bytes of the rows appended, through growth', () => {
    const b = new CopyBuffer(8);
    const rows: string[] = [];
    for (let i = 0; i < 2000; i++) rows.push(`t\t${i}\tuser-${i}\tcafé ☕ 𝄞 \\N\n`);
    for (const r of rows) b.append(r);
    expect(b.bytes().equals(Buffer.from(rows.join(''), 'utf8'))).toBe(true);
    expect(b.byteLength).toBe(Buffer.byteLength(rows.join(''), 'utf8'));
  });

  it('starts empty again after reset, and a big burst does not keep its memory', () => {
    const b = new CopyBuffer(16);
    b.append('x'.repeat(20 * 1024 * 1024));
    b.reset();
    expect(b.byteLength).toBe(0);
    expect(b.bytes().length).toBe(0);
    b.append('a\tb\n');
    expect(b.bytes().toString()).toBe('a\tb\n');
    // The 64 MiB array used for the burst was let go: appending small rows never needs it.
    expect((b as unknown as { buf: Buffer }).buf.length).toBeLessThan(1024);
  });
});
