/** sfc32: a small, fast, seedable PRNG, so the same seed gives the same event stream everywhere. */
export function createRandom(seed: number): () => number {
  let a = 0x9e3779b9 ^ seed,
    b = 0x243f6a88 ^ (seed * 31),
    c = 0xb7e15162 ^ (seed * 17),
    d = seed | 0;
  const next = (): number => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next(); // mix the seed in
  return next;
}

/** Samples 0..n-1 with probability proportional to 1/(k+1)^s (s = 0 is uniform). */
export function createZipf(n: number, s: number, random: () => number): () => number {
  if (s === 0) return () => Math.floor(random() * n);
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += 1 / Math.pow(k + 1, s);
    cdf[k] = sum;
  }
  return () => {
    const u = random() * sum;
    let lo = 0,
      hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
