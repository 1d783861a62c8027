import { parseRulesConfig } from '../rules/parse.js';
import { DEFAULT_RULES } from '../rules/defaults.js';
import { rulesSchema } from '../rules/schema.js';

/** What the HTTP layer needs from the rules: the decoder's amount limit and tier names. */
export interface ApiRules {
  /** POST /events rejects amounts >= this, as the engine's decoder does. */
  maxAmount: number;
  /** The highest tier whose threshold `lifetimeEarned` reaches (the evaluator's rule); null below the first tier or with no tiers. */
  tierOf: (lifetimeEarned: number) => string | null;
}

/** From the rules file's text (already validated by the engine), or the built-in rules when there is no file. */
export function apiRulesFrom(rulesText: string | null, source?: string): ApiRules {
  const config = rulesText !== null ? parseRulesConfig(rulesText, source) : rulesSchema.parse(DEFAULT_RULES);
  // Strictly ascending thresholds (the schema checks it).
  const tiers = config.tiers.map((t) => ({ name: t.name, min: t.min_lifetime_points }));
  return {
    maxAmount: config.max_amount,
    tierOf: (lifetimeEarned) => {
      for (let i = tiers.length - 1; i >= 0; i--) if (lifetimeEarned >= tiers[i]!.min) return tiers[i]!.name;
      return null;
    },
  };
}
