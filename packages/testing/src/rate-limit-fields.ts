/** One item of a `RateLimit` or `RateLimit-Policy` field: a policy name and its parameters. */
export type RateLimitItem = { name: string; params: Record<string, number | string> };

const ITEM = /^"([^"\\]*)"((?:;[a-z][a-z0-9_.*-]*=(?:-?\d+|"[^"\\]*"))*)$/;
const PARAM = /;([a-z][a-z0-9_.*-]*)=(-?\d+|"[^"\\]*")/g;

/**
 * Parses the IETF RateLimit header fields (Structured Field Lists of quoted names with integer or
 * string parameters), so tests assert on values rather than on exact formatting. Throws on
 * anything else: a malformed header is a failure, not a miss.
 *
 * @example
 * parseRateLimitField('"minute";q=10;w=60, "in-flight";q=5;qu="concurrent-requests"');
 * // [{ name: 'minute', params: { q: 10, w: 60 } }, { name: 'in-flight', params: { q: 5, qu: 'concurrent-requests' } }]
 */
export function parseRateLimitField(value: string | null): RateLimitItem[] {
  if (value === null) throw new Error('RateLimit field is missing');
  return value.split(',').map((raw) => {
    const text = raw.trim();
    const match = ITEM.exec(text);
    if (!match) throw new Error(`not a RateLimit list item: ${JSON.stringify(text)}`);
    const params: Record<string, number | string> = {};
    for (const [, key, v] of (match[2] ?? '').matchAll(PARAM)) {
      params[key!] = v!.startsWith('"') ? v!.slice(1, -1) : Number(v);
    }
    return { name: match[1]!, params };
  });
}
