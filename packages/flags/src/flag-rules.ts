import { FLAG_NAMES, type FlagName, type FlagRule } from '@assistant/contracts';
import { inRollout } from './rollout-bucket.ts';

/** A flag's rule from config, before any runtime override: all on, or all off. */
export function defaultRule(name: FlagName, defaultOff: readonly FlagName[]): FlagRule {
  return { enabled: !defaultOff.includes(name), percentage: 100, allow: [], deny: [] };
}

/** Every flag's config default (`FLAGS_DEFAULT_OFF` names the ones that start off). */
export function defaultRules(defaultOff: readonly FlagName[]): Record<FlagName, FlagRule> {
  return Object.fromEntries(FLAG_NAMES.map((name) => [name, defaultRule(name, defaultOff)])) as Record<
    FlagName,
    FlagRule
  >;
}

/**
 * Whether a rule is on for a user: the deny list wins, then the allow list, then `enabled`,
 * then the user's stable bucket against `percentage` (salted by the flag's name).
 */
export function ruleAllows(name: FlagName, rule: FlagRule, userId: string): boolean {
  if (rule.deny.includes(userId)) return false;
  if (rule.allow.includes(userId)) return true;
  if (!rule.enabled) return false;
  return inRollout(rule.percentage, name, userId);
}

/** A rule in partial rollout (0 < percentage < 100, enabled): the canary guard watches it. */
export function isPartialRollout(rule: FlagRule): boolean {
  return rule.enabled && rule.percentage > 0 && rule.percentage < 100;
}
