/**
 * COPY rows accumulated as UTF-8 bytes in one reusable buffer. A partition's ledger rows wait
 * here between flushes: kept as strings they outlived young-generation collections, were
 * promoted and then joined into one large string and copied again into a Buffer, which is most
 * of what grew the actor threads' heaps. Here they cost one copy and no garbage.
 */
export class CopyBuffer {
  private buf: Buffer;
  private used = 0;

  constructor(private readonly initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get byteLength(): number {
    return this.used;
  }

  /** Appends already-encoded COPY text (see copy-text.ts). */
  append(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const worst = text.length * 3;
    if (this.used + worst > this.buf.length) this.grow(this.used + worst);
    this.used += this.buf.write(text, this.used, 'utf8');
  }

  /** The rows so far: a view, valid until the next reset or append. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.used);
  }

  /** Empties the buffer for the next flush; gives back memory a burst left behind. */
  reset(): void {
    this.used = 0;
    if (this.buf.length > 16 * 1024 * 1024) this.buf = Buffer.allocUnsafe(this.initialBytes);
  }

  private grow(needed: number): void {
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }
}
