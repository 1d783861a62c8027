/**
 * The `expire` ledger rows of one settle: one row per expiry moment, in ascending order, with the
 * points that expired at it. Reused (reset) between users so settling allocates nothing.
 */
export class ExpiryRows {
  /** Pairs: at (expiry moment, ms), points. */
  private readonly pairs: number[] = [];
  length = 0;
  /** Lots added since the reset (one add per lot; rows of the same moment join). */
  lots = 0;

  reset(): void {
    this.length = 0;
    this.lots = 0;
  }

  /** Adds `points` expiring at `at`; joins the last row when it has the same moment. */
  add(at: number, points: number): void {
    this.lots++;
    const n = this.length;
    if (n > 0 && this.pairs[2 * n - 2] === at) {
      this.pairs[2 * n - 1]! += points;
      return;
    }
    this.pairs[2 * n] = at;
    this.pairs[2 * n + 1] = points;
    this.length = n + 1;
  }

  at(i: number): number {
    return this.pairs[2 * i]!;
  }

  points(i: number): number {
    return this.pairs[2 * i + 1]!;
  }
}
