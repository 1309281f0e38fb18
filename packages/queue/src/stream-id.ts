const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;
const MAX_PART = 2n ** 64n - 1n;

/**
 * Whether `id` is a Redis Stream id (`<ms>-<seq>`) that Redis would accept, as sent back in
 * `Last-Event-ID`: both parts are unsigned 64-bit integers. Twenty digits alone are not enough:
 * `99999999999999999999-0` overflows, Redis refuses it inside the stream loop, and the client is
 * told to reconnect with the same id forever.
 *
 * @example isStreamId('1718000000000-3') // true
 */
export function isStreamId(id: string): boolean {
  const match = STREAM_ID.exec(id);
  if (!match) return false;
  return BigInt(match[1]!) <= MAX_PART && BigInt(match[2]!) <= MAX_PART;
}
