import { z } from 'zod';

// Postgres' `date` and JS Dates both hold these; year 0 and beyond 9999 do not round-trip.
const FIRST_DAY = '1970-01-01';
const LAST_DAY = '9999-12-31';

/** Whether `day` (`YYYY-MM-DD`) names a real calendar day: `2024-02-30` and `2024-13-45` do not. */
export function isCalendarDay(day: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return false;
  const date = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === day;
}

/** A UTC calendar day as `YYYY-MM-DD`, between 1970-01-01 and 9999-12-31. */
export const IsoDay = z
  .string()
  .refine(isCalendarDay, 'must be a real date as YYYY-MM-DD')
  .refine((day) => day >= FIRST_DAY && day <= LAST_DAY, `must be between ${FIRST_DAY} and ${LAST_DAY}`);

/** Query string of `GET /v1/usage` and `GET /v1/admin/usage`: an inclusive UTC day range. */
export const UsageParams = z
  .object({ from: IsoDay.optional(), to: IsoDay.optional() })
  .refine((p) => !p.from || !p.to || p.from <= p.to, 'from must not be after to');
