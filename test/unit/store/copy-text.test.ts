import { describe, expect, it } from 'vitest';
import { copyBytea, copyRow, copyText, COPY_NULL } from '../../../src/store/copy-text.js';

describe('COPY text encoding', () => {
  it('escapes the four characters COPY treats specially and nothing else', () => {
    expect(copyText('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(copyText('ünïcødé "quoted" ,comma')).toBe('ünïcødé "quoted" ,comma');
  });
  it('puts U+FFFD for NUL, which Postgres text cannot hold', () => {
    expect(copyText('type "x\u0000y"')).toBe('type "x\uFFFDy"');
  });
  it('writes NULL as \\N, distinct from the text "\\N"', () => {
    expect(copyText(null)).toBe(COPY_NULL);
    expect(copyText('\\N')).toBe('\\\\N');
  });
  it('writes bytea as escaped hex', () => {
    expect(copyBytea(new Uint8Array([0, 255, 16]))).toBe('\\\\x00ff10');
    expect(copyBytea(null)).toBe(COPY_NULL);
  });
  it('joins columns with tabs and ends rows with a newline', () => {
    expect(copyRow(['1', 'x', COPY_NULL])).toBe('1\tx\t\\N\n');
  });
});
