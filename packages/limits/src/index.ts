export type {
  Admission,
  AdmissionCode,
  AdmissionLimit,
  AdmissionOptions,
  AdmissionResult,
  AdmissionState,
  AdmitInput,
  GlobalAdmissionLimits,
  LimitState,
} from './admission.ts';
export { createAdmission } from './admission.ts';
export type {
  Budget,
  BudgetOptions,
  BudgetSpent,
  ReserveInput,
  ReserveResult,
  SettleInput,
  SettleResult,
} from './budget.ts';
export { createBudget } from './budget.ts';
export type { RateLimitHeaders } from './rate-limit-headers.ts';
export type { RunSlots, RunSlotsOptions } from './run-slots.ts';
export { createRunSlots } from './run-slots.ts';
