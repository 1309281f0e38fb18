// The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-10/-11): both are
// Structured Field Lists of a quoted policy name with parameters.
//   RateLimit-Policy: "minute";q=10;w=60, "hour";q=100;w=3600        (quota q per window w seconds)
//   RateLimit: "minute";r=3;t=42                (r left; within t seconds no more than r can pass)

/** The response headers of an admission decision, ready to set on a response. */
export type RateLimitHeaders = {
  'RateLimit-Policy': string;
  RateLimit: string;
  /** Seconds to wait; only on a refusal. */
  'Retry-After'?: string;
};

/** One advertised quota policy. */
export type QuotaPolicy = {
  name: string;
  quota: number;
  /** Window in seconds; none for a concurrency quota. */
  windowSeconds?: number;
  /** The draft's quota unit; `requests` is its default and is left out. */
  unit?: 'requests' | 'concurrent-requests';
};

/** The current state of one policy. */
export type ServiceLimit = { name: string; remaining: number; resetSeconds?: number };

function quoted(name: string): string {
  // An sf-string holds printable ASCII; our names are fixed identifiers, so only guard the quote.
  return `"${name.replace(/["\\]/g, '')}"`;
}

/** Formats a `RateLimit-Policy` field value. */
export function formatRateLimitPolicy(policies: QuotaPolicy[]): string {
  return policies
    .map((policy) => {
      let item = `${quoted(policy.name)};q=${Math.max(0, Math.floor(policy.quota))}`;
      if (policy.unit && policy.unit !== 'requests') item += `;qu="${policy.unit}"`;
      if (policy.windowSeconds !== undefined) item += `;w=${Math.max(1, Math.ceil(policy.windowSeconds))}`;
      return item;
    })
    .join(', ');
}

/** Formats a `RateLimit` field value naming one policy. */
export function formatRateLimit(limit: ServiceLimit): string {
  let item = `${quoted(limit.name)};r=${Math.max(0, Math.floor(limit.remaining))}`;
  if (limit.resetSeconds !== undefined) item += `;t=${Math.max(0, Math.ceil(limit.resetSeconds))}`;
  return item;
}

/** Of several limits, the closest to exhaustion: fewest left, then the longest to wait. */
export function closestToExhaustion(limits: ServiceLimit[]): ServiceLimit | undefined {
  let best: ServiceLimit | undefined;
  for (const limit of limits) {
    if (
      !best ||
      limit.remaining < best.remaining ||
      (limit.remaining === best.remaining && (limit.resetSeconds ?? 0) > (best.resetSeconds ?? 0))
    ) {
      best = limit;
    }
  }
  return best;
}
