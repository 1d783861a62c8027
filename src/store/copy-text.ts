/**
 * Encoding for PostgreSQL's COPY text format: columns separated by tabs, rows by
 * newlines, NULL as \N, and backslash, tab, newline and carriage return escaped (NUL, which
 * Postgres text cannot hold, replaced).
 */

// NUL is matched on purpose (see below).
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\\\t\n\r\u0000]/;
// eslint-disable-next-line no-control-regex
const ESCAPES = /[\\\t\n\r\u0000]/g;
// Postgres text cannot hold NUL at all (a COPY with one fails, and would fail on every retry): U+FFFD
// stands in. Event data with NUL is refused at decode; this covers free text such as error details.
const REPLACEMENT: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\u0000': '\uFFFD' };

export const COPY_NULL = '\\N';

export function copyText(value: string | null | undefined): string {
  if (value === null || value === undefined) return COPY_NULL;
  // Fast path: ids and numbers almost never need escaping.
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPES, (c) => REPLACEMENT[c] ?? c) : value;
}

/** A bytea value in COPY text: hex form, its leading backslash escaped for COPY. */
export function copyBytea(value: Uint8Array | null | undefined): string {
  if (value === null || value === undefined) return COPY_NULL;
  return `\\\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
}

/** One row, already-encoded columns joined. */
export function copyRow(columns: string[]): string {
  return `${columns.join('\t')}\n`;
}
