/** A proportion observed in one variant: successes out of trials. */
export type Proportion = { successes: number; trials: number };

/** A two-proportion comparison of a variant against the control. */
export type ProportionComparison = {
  /** Variant rate minus control rate. */
  difference: number;
  /** 95% confidence interval of the difference (unpooled Wald); null without trials on both sides. */
  ci95: [number, number] | null;
  /** Two-proportion z statistic (pooled); null when undefined (no trials, or no variance). */
  z: number | null;
  /** Two-sided p-value; null when `z` is. */
  pValue: number | null;
  /** p < 0.05. */
  significant: boolean;
  /**
   * Trials per variant still needed to detect the observed difference at 5% significance and
   * 80% power (0 once significant); null when the difference is 0 (no finite sample detects it).
   */
  sampleSizeNeeded: number | null;
};

const Z_ALPHA = 1.959964; // two-sided 5%
const Z_POWER = 0.841621; // 80% power

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 erf approximation, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/**
 * Compares a variant's rate with the control's: the difference, its 95% interval, the pooled
 * two-proportion z-test, and the per-variant sample size that the observed difference would
 * need (normal approximation), less what the smaller side already has.
 */
export function compareProportions(control: Proportion, variant: Proportion): ProportionComparison {
  const p1 = control.trials > 0 ? control.successes / control.trials : 0;
  const p2 = variant.trials > 0 ? variant.successes / variant.trials : 0;
  const difference = p2 - p1;
  if (control.trials === 0 || variant.trials === 0) {
    return { difference, ci95: null, z: null, pValue: null, significant: false, sampleSizeNeeded: null };
  }
  const se = Math.sqrt((p1 * (1 - p1)) / control.trials + (p2 * (1 - p2)) / variant.trials);
  const ci95: [number, number] = [difference - Z_ALPHA * se, difference + Z_ALPHA * se];
  const pooled = (control.successes + variant.successes) / (control.trials + variant.trials);
  const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / control.trials + 1 / variant.trials));
  const z = pooledSe > 0 ? difference / pooledSe : null;
  const pValue = z === null ? null : 2 * (1 - normalCdf(Math.abs(z)));
  const significant = pValue !== null && pValue < 0.05;
  let sampleSizeNeeded: number | null = null;
  if (significant) sampleSizeNeeded = 0;
  else if (difference !== 0) {
    const mean = (p1 + p2) / 2;
    const perArm =
      (Z_ALPHA * Math.sqrt(2 * mean * (1 - mean)) + Z_POWER * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 /
      difference ** 2;
    sampleSizeNeeded = Math.max(0, Math.ceil(perArm) - Math.min(control.trials, variant.trials));
  }
  return { difference, ci95, z, pValue, significant, sampleSizeNeeded };
}
