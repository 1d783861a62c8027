export const ROUNDING_MODES = ['floor', 'round', 'ceil'] as const;
export type RoundingMode = (typeof ROUNDING_MODES)[number];
export type RoundFn = (x: number) => number;

/**
 * Binary floating point turns 1.15 * 100 into 114.99999999999999. A product within a few
 * ulps of a whole number is that whole number (relative tolerance 1e-12, far below any
 * real currency fraction), so floor/ceil neither lose nor invent a point through noise.
 */
function snapped(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) <= 1e-12 * Math.max(1, Math.abs(x)) ? r : x;
}

/** For products of numbers (where representation noise can appear). Half up for `round`. */
const SNAPPED: Readonly<Record<RoundingMode, RoundFn>> = {
  floor: (x) => Math.floor(snapped(x)),
  ceil: (x) => Math.ceil(snapped(x)),
  round: (x) => Math.round(snapped(x)),
};

/** For values taken as sent (no multiplication happened): exactly Math.floor etc. */
const EXACT: Readonly<Record<RoundingMode, RoundFn>> = { floor: Math.floor, ceil: Math.ceil, round: Math.round };

const identity: RoundFn = (x) => x;

/** `exact` skips the noise snap; use it only when the value is an input as sent. */
export function roundingFn(mode: RoundingMode | 'none', exact = false): RoundFn {
  if (mode === 'none') return identity;
  return exact ? EXACT[mode] : SNAPPED[mode];
}

/** Floor with the noise snap, for refund shares (pointsEarned * refunded fraction). */
export const floorPoints: RoundFn = SNAPPED.floor;
