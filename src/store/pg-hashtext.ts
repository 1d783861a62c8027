/**
 * PostgreSQL's `hashtext(text)` (hash_bytes in src/common/hashfn.c: Bob Jenkins' lookup3 over the
 * UTF-8 bytes, little-endian words), computed here so that the engine and SQL agree on a key's hash
 * without asking Postgres. It is also the low 32 bits of `hashtextextended(text, 0)`. Postgres keeps
 * it stable across versions (hash partitioning depends on it); a test compares it with the server.
 */
const scratch = { buf: Buffer.alloc(1024) };

const rot = (x: number, k: number): number => (x << k) | (x >>> (32 - k));
/** A little-endian 32-bit word. */
const word = (k: Buffer, i: number): number => k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24);

/** The hash of the UTF-8 bytes of `s`, as Postgres' int4 (signed). */
export function pgHashText(s: string): number {
  // Worst case 3 bytes per UTF-16 unit.
  if (s.length * 3 > scratch.buf.length) scratch.buf = Buffer.alloc(s.length * 3);
  return hashBytes(scratch.buf, scratch.buf.write(s, 0, 'utf8'));
}

/** pgHashText(`${a}/${b}`), without building the string. */
export function pgHashTextPair(a: string, b: string): number {
  if ((a.length + b.length + 1) * 3 > scratch.buf.length) scratch.buf = Buffer.alloc((a.length + b.length + 1) * 3);
  const k = scratch.buf;
  let n = k.write(a, 0, 'utf8');
  k[n++] = 0x2f; // '/'
  n += k.write(b, n, 'utf8');
  return hashBytes(k, n);
}

function hashBytes(k: Buffer, n: number): number {
  let a = (0x9e3779b9 + n + 3923095) | 0;
  let b = a;
  let c = a;
  let i = 0;
  let len = n;
  while (len >= 12) {
    a = (a + word(k, i)) | 0;
    b = (b + word(k, i + 4)) | 0;
    c = (c + word(k, i + 8)) | 0;
    // mix(a, b, c)
    a = (a - c) | 0;
    a ^= rot(c, 4);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 6);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 8);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= rot(c, 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 19);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 4);
    b = (b + a) | 0;
    i += 12;
    len -= 12;
  }
  // The last 0-11 bytes (sums, so in any order); the lowest byte of c is left for the length (in the seed).
  if (len >= 8) {
    a = (a + word(k, i)) | 0;
    b = (b + word(k, i + 4)) | 0;
    if (len >= 9) c = (c + (k[i + 8]! << 8)) | 0;
    if (len >= 10) c = (c + (k[i + 9]! << 16)) | 0;
    if (len === 11) c = (c + (k[i + 10]! << 24)) | 0;
  } else if (len >= 4) {
    a = (a + word(k, i)) | 0;
    if (len >= 5) b = (b + k[i + 4]!) | 0;
    if (len >= 6) b = (b + (k[i + 5]! << 8)) | 0;
    if (len === 7) b = (b + (k[i + 6]! << 16)) | 0;
  } else {
    if (len >= 1) a = (a + k[i]!) | 0;
    if (len >= 2) a = (a + (k[i + 1]! << 8)) | 0;
    if (len === 3) a = (a + (k[i + 2]! << 16)) | 0;
  }
  // final(a, b, c)
  c ^= b;
  c = (c - rot(b, 14)) | 0;
  a ^= c;
  a = (a - rot(c, 11)) | 0;
  b ^= a;
  b = (b - rot(a, 25)) | 0;
  c ^= b;
  c = (c - rot(b, 16)) | 0;
  a ^= c;
  a = (a - rot(c, 4)) | 0;
  b ^= a;
  b = (b - rot(a, 14)) | 0;
  c ^= b;
  c = (c - rot(b, 24)) | 0;
  return c;
}
