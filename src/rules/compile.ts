import type { LifecycleSettings } from '../lifecycle/lot-times.js';
import { DAY_NAMES, isoDateToDayNumber } from './calendar.js';
import { roundingFn, type RoundFn } from './rounding.js';
import type { RulesConfig } from './schema.js';

/** A multiplier rule flattened to plain fields, so matching is a few comparisons and no calls. */
export interface CompiledRule {
  readonly name: string;
  /** Bit d set = matches weekday d (0 = Sunday); 0x7f when the rule has no days_of_week. */
  readonly dayMask: number;
  /** Inclusive local-day bounds (days since epoch); -Infinity/Infinity when no date_range. */
  readonly fromDay: number;
  readonly toDay: number;
  /** null = the rule does not look at this field. */
  readonly categories: ReadonlySet<string> | null;
  readonly skus: ReadonlySet<string> | null;
  readonly multiplier: number;
  readonly stop: boolean;
}

/** Everything evaluate needs, computed once per rules file. */
export interface CompiledRules {
  readonly pointsPerUnit: number;
  readonly baseRound: RoundFn;
  readonly finalRound: RoundFn;
  readonly minimumSpend: number;
  /** Infinity when uncapped. */
  readonly capPerEvent: number;
  readonly capPerDay: number;
  readonly rules: readonly CompiledRule[];
  /** Some rule looks at the calendar: only then compute the local day. */
  readonly needsDay: boolean;
  /** Some rule looks at category or sku: only then can items differ in multiplier. */
  readonly itemSensitive: boolean;
  /** Ascending tier thresholds (lifetime earned points) and their multipliers. */
  readonly tierNames: readonly string[];
  readonly tierMins: readonly number[];
  readonly tierMultipliers: readonly number[];
  readonly allowNegative: boolean;
  /** An event id repeated within this (by event time) is a duplicate. */
  readonly idempotencyWindowMs: number;
  /** A refund further than this (by event time) from its purchase is a dead letter `refund_window_passed`. */
  readonly refundWindowMs: number;
  /** The decoder rejects amounts >= this. */
  readonly maxAmount: number;
  /** The `lifecycle:` block (pending period and expiry of lots, src/lifecycle/); null without one (points spendable at once, never expiring). */
  readonly lifecycle: LifecycleSettings | null;
}

const ANY_DAY = 0x7f;

export function compileRules(config: RulesConfig): CompiledRules {
  const { earn } = config;
  const rules = config.rules.map((r, i): CompiledRule => {
    const w = r.when ?? {};
    let dayMask = ANY_DAY;
    if (w.days_of_week !== undefined) {
      dayMask = 0;
      for (const d of w.days_of_week) dayMask |= 1 << DAY_NAMES.indexOf(d);
    }
    // The schema has already checked both dates, so null cannot happen here.
    const fromDay = w.date_range ? (isoDateToDayNumber(w.date_range.from) ?? -Infinity) : -Infinity;
    const toDay = w.date_range ? (isoDateToDayNumber(w.date_range.to) ?? Infinity) : Infinity;
    return {
      name: r.name ?? `rules[${i}]`,
      dayMask,
      fromDay,
      toDay,
      categories: w.category ? new Set(w.category) : null,
      skus: w.sku ? new Set(w.sku) : null,
      multiplier: r.multiplier,
      stop: r.stop,
    };
  });
  return Object.freeze({
    pointsPerUnit: earn.points_per_unit,
    // amount x 1 is the amount as sent: round it exactly (as the seed's Math.floor did), no noise snap.
    baseRound: roundingFn(earn.base_rounding, earn.points_per_unit === 1),
    finalRound: roundingFn(earn.rounding),
    minimumSpend: earn.minimum_spend,
    capPerEvent: earn.cap_per_event ?? Infinity,
    capPerDay: earn.cap_per_user_per_day ?? Infinity,
    rules: Object.freeze(rules),
    needsDay: rules.some((r) => r.dayMask !== ANY_DAY || r.fromDay !== -Infinity || r.toDay !== Infinity),
    itemSensitive: rules.some((r) => r.categories !== null || r.skus !== null),
    tierNames: Object.freeze(config.tiers.map((t) => t.name)),
    tierMins: Object.freeze(config.tiers.map((t) => t.min_lifetime_points)),
    tierMultipliers: Object.freeze(config.tiers.map((t) => t.multiplier)),
    allowNegative: config.allow_negative,
    idempotencyWindowMs: config.idempotency_window,
    refundWindowMs: config.refund_window,
    maxAmount: config.max_amount,
    lifecycle:
      config.lifecycle === null
        ? null
        : Object.freeze({
            pendingMs: config.lifecycle.pending,
            expiresAfterMs: config.lifecycle.expires_after ?? null,
          }),
  });
}

/** The tier `lifetimeEarned` reaches: the highest whose threshold it meets (thresholds ascend); -1 below the first or with no tiers. */
export function tierIndex(c: Pick<CompiledRules, 'tierMins'>, lifetimeEarned: number): number {
  const mins = c.tierMins;
  for (let i = mins.length - 1; i >= 0; i--) if (lifetimeEarned >= mins[i]!) return i;
  return -1;
}
