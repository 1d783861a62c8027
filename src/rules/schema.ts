import { z } from 'zod';
import { DAY_NAMES, isoDateToDayNumber } from './calendar.js';
import { durationSchema, parseDuration } from './duration.js';
import { ROUNDING_MODES } from './rounding.js';

/**
 * The rules file format (documented in config/rules.schema.md). Every object is strict so a
 * misspelt key is an error instead of a silently ignored promotion.
 */

const nonNegative = z.number().min(0, { error: 'must be >= 0' });
const cap = z
  .number()
  .int({ error: 'must be a whole number of points' })
  .min(0, { error: 'must be >= 0' })
  .nullish()
  .transform((v) => v ?? null);

const nameList = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
    error: 'must be a non-empty string or a non-empty list of strings',
  })
  .transform((v) => (typeof v === 'string' ? [v] : v));

const isoDate = z
  .string({ error: 'must be a date written YYYY-MM-DD' })
  .refine((s) => isoDateToDayNumber(s) !== null, { error: 'must be a real calendar date written YYYY-MM-DD' });

const dateRange = z.strictObject({ from: isoDate, to: isoDate }).superRefine((r, ctx) => {
  // ISO dates compare correctly as text.
  if (r.from > r.to) ctx.addIssue({ code: 'custom', path: ['to'], message: `must not be before from (${r.from})` });
});

const when = z.strictObject({
  days_of_week: z
    .array(z.enum(DAY_NAMES, { error: `must be one of ${DAY_NAMES.join(', ')}` }))
    .min(1, { error: 'must list at least one day' })
    .optional(),
  date_range: dateRange.optional(),
  category: nameList.optional(),
  sku: nameList.optional(),
});

const rule = z.strictObject({
  name: z.string().min(1).optional(),
  when: when.optional(),
  multiplier: nonNegative,
  stop: z.boolean().default(false),
});

type Rule = z.output<typeof rule>;

/** A rule that matches on its date range and nothing else: a dated promotion. */
const datedOnly = (r: Rule): boolean => r.when?.date_range !== undefined && Object.keys(r.when).length === 1;
const label = (r: Rule, i: number): string => (r.name !== undefined ? `rules[${i}] ("${r.name}")` : `rules[${i}]`);

const rules = z
  .array(rule)
  .superRefine((list, ctx) => {
    const names = new Map<string, number>();
    list.forEach((r, i) => {
      if (r.name === undefined) return;
      const first = names.get(r.name);
      if (first !== undefined)
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicates the name of rules[${first}]` });
      else names.set(r.name, i);
    });
    // Two dated promotions over the same days would silently multiply together; almost always a mistake.
    for (let j = 0; j < list.length; j++) {
      const b = list[j]!;
      if (!datedOnly(b)) continue;
      for (let i = 0; i < j; i++) {
        const a = list[i]!;
        if (!datedOnly(a)) continue;
        const ra = a.when!.date_range!,
          rb = b.when!.date_range!;
        if (ra.from <= rb.to && rb.from <= ra.to) {
          ctx.addIssue({
            code: 'custom',
            path: [j, 'when', 'date_range'],
            message: `overlaps ${label(a, i)} (${ra.from}..${ra.to}); rules that match on date_range alone must not overlap`,
          });
        }
      }
    }
  })
  .nullish()
  .transform((v) => v ?? []);

const tier = z.strictObject({
  name: z.string().min(1),
  min_lifetime_points: z.number().int({ error: 'must be a whole number of points' }).min(0, { error: 'must be >= 0' }),
  multiplier: nonNegative,
});

const tiers = z
  .array(tier)
  .superRefine((list, ctx) => {
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!,
        cur = list[i]!;
      if (cur.min_lifetime_points <= prev.min_lifetime_points) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'min_lifetime_points'],
          message: `tiers must be in strictly ascending order: ${cur.min_lifetime_points} is not above tiers[${i - 1}] (${prev.min_lifetime_points})`,
        });
      }
    }
  })
  .nullish()
  .transform((v) => v ?? []);

const earn = z.strictObject({
  points_per_unit: nonNegative.default(1),
  /** Rounding of each base amount (amount x points_per_unit) before multipliers; `none` keeps fractions. */
  base_rounding: z
    .enum([...ROUNDING_MODES, 'none'], { error: 'must be one of floor, round, ceil, none' })
    .default('floor'),
  /** The final rounding of the event's points, after every multiplier and before caps. */
  rounding: z.enum(ROUNDING_MODES, { error: `must be one of ${ROUNDING_MODES.join(', ')}` }).default('floor'),
  minimum_spend: nonNegative.default(0),
  cap_per_event: cap,
  cap_per_user_per_day: cap,
});

const duration = durationSchema;

/** Like duration, but also 0 (written 0, "0" or "0d"): no pending period. */
const ZERO_DURATION = /^0+(?:ms|s|m|h|d|w)?$/;
const durationOrZero = z
  .union([z.literal(0), z.string()], { error: 'must be 0 or a duration such as "14d", "36h" or "1d12h"' })
  .transform((v, ctx) => {
    if (v === 0 || ZERO_DURATION.test(v)) return 0;
    const ms = parseDuration(v);
    if (ms === null) {
      ctx.addIssue({
        code: 'custom',
        message: `"${v}" is not 0 or a duration such as "14d", "36h" or "1d12h" (units ms, s, m, h, d, w)`,
      });
      return z.NEVER;
    }
    return ms;
  });

/** Points lots: pending period and expiry of earned points (config/rules.schema.md, "Points lifecycle"). */
const lifecycle = z
  .strictObject({
    pending: durationOrZero.default(0),
    /** Left out: points never expire. */
    expires_after: duration.optional(),
  })
  .superRefine((l, ctx) => {
    // Equal or shorter would make every lot expire before (or as) it becomes spendable.
    if (l.expires_after !== undefined && l.expires_after <= l.pending) {
      ctx.addIssue({ code: 'custom', path: ['expires_after'], message: 'must be longer than pending' });
    }
  })
  .nullish()
  .transform((v) => v ?? null);

export const rulesSchema = z.strictObject({
  version: z.literal(1, { error: 'must be 1 (the only format version so far)' }),
  earn: earn.prefault({}),
  rules,
  tiers,
  allow_negative: z.boolean().default(false),
  idempotency_window: duration.prefault('7d'),
  refund_window: duration.prefault('90d'),
  max_amount: z.number().positive({ error: 'must be > 0' }).default(1_000_000),
  lifecycle,
});

/** A validated rules file, with defaults filled in and durations in milliseconds. */
export type RulesConfig = z.output<typeof rulesSchema>;
export type RulesInput = z.input<typeof rulesSchema>;
