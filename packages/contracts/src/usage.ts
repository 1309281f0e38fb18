import { z } from 'zod';

const isoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD');

/** Query string of `GET /v1/usage` and `GET /v1/admin/usage`: an inclusive UTC day range. */
export const UsageParams = z
  .object({ from: isoDay.optional(), to: isoDay.optional() })
  .refine((p) => !p.from || !p.to || p.from <= p.to, 'from must not be after to');
