import { z } from 'zod';

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const WHOLE = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+)(ms|s|m|h|d|w)/g;

/**
 * Parses a duration such as "7d", "36h", "1d12h" or "500ms" into milliseconds.
 * Returns null when the text is not one or more <whole number><unit> parts, or is zero.
 */
export function parseDuration(text: string): number | null {
  if (!WHOLE.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : null;
}

/** A duration field ("7d", "36h", "1d12h"), validated and turned into milliseconds; the rules file and the environment use it alike. */
export const durationSchema = z
  .string({ error: 'must be a duration such as "7d", "36h" or "1d12h"' })
  .transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === null) {
      ctx.addIssue({
        code: 'custom',
        message: `"${s}" is not a duration such as "7d", "36h" or "1d12h" (units ms, s, m, h, d, w)`,
      });
      return z.NEVER;
    }
    return ms;
  });
